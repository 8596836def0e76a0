#include "streamrec/apps/cli.h"

int main(int argc, char** argv) { return streamrec::apps::Main(argc, argv); }
