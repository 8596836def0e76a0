#!/usr/bin/python3
"""Static checks of the container deployment: docker-compose.yml, the Dockerfile,
.dockerignore and deploy/streamrec.toml, read together.

No Docker engine runs where the tests run, so this reads the files and checks that they agree
with each other and with docs/config.md. The `topics` service's script is run with bash against
a stub kafka-topics.sh that records its arguments, so what it creates is checked, not guessed.

Usage: /usr/bin/python3 tests/deploy/check_compose.py [SOURCE_DIR [STREAMREC_BINARY]]
With the binary, `streamrec config --config deploy/streamrec.toml` must accept the file too.
Needs python3-yaml (Debian's; scripts/deps.sh installs it) and Python 3.11+ (tomllib).
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("check_compose.py: the Python module 'yaml' is missing: install Debian's python3-yaml "
             "(scripts/deps.sh does) and run this with /usr/bin/python3")
try:
    import tomllib
except ImportError:
    sys.exit("check_compose.py: needs Python 3.11+ for tomllib; run it with /usr/bin/python3")

TOPICS = ("events", "items", "events.dlq", "recommendations")
CONFIG_PATH = "/etc/streamrec/streamrec.toml"

failures = []
passes = 0


def check(ok, what):
    global passes
    if ok:
        passes += 1
        print(f"ok     {what}")
    else:
        failures.append(what)
        print(f"FAILED {what}")
    return ok


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def depends_condition(service, name):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return "service_started" if name in deps else None
    if name not in deps:
        return None
    return (deps[name] or {}).get("condition", "service_started")


def mounts(service):
    """(source, target) of every volume of a service, short or long syntax."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            out.append((str(v.get("source", "")), str(v.get("target", ""))))
        else:
            parts = str(v).split(":")
            if len(parts) == 1:
                out.append(("", parts[0]))
            else:
                out.append((parts[0], parts[1]))
    return out


def flatten(table, prefix=""):
    keys = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            keys.update(flatten(v, name + "."))
        else:
            keys[name] = v
    return keys


def documented_keys(config_md):
    return set(re.findall(r"^\|\s*`([a-z0-9_.<>]+)`\s*\|", config_md, re.MULTILINE))


def listeners(value):
    """'NAME://host:port,...' -> {NAME: 'host:port'}"""
    out = {}
    for item in (value or "").split(","):
        item = item.strip()
        if "://" in item:
            name, addr = item.split("://", 1)
            out[name] = addr
    return out


# deps.sh packages the image's build stage leaves out: tests, benchmarks, demos, fuzzing.
NOT_IN_IMAGE = {"ccache", "catch2", "libbenchmark-dev", "kcat", "chromium", "clang", "libclang-rt-dev"}


def deps_packages(deps_sh):
    """The package names in scripts/deps.sh's STREAMREC_PACKAGES=( ... ) array."""
    body = re.search(r"STREAMREC_PACKAGES=\((.*?)\n\)", deps_sh, re.DOTALL)
    names = []
    for line in (body.group(1) if body else "").splitlines():
        names += line.split("#", 1)[0].split()
    return names


def apt_installed(stage):
    """The packages a stage's RUN instructions pass to apt-get install."""
    names = []
    for word, args in stage:
        if word != "RUN":
            continue
        for command in args.split("&&"):
            parts = command.split()
            if "apt-get" in parts and "install" in parts:
                names += [p for p in parts[parts.index("install") + 1:] if not p.startswith("-")]
    return names


def dockerfile_stages(text):
    """The Dockerfile's instructions, as (INSTRUCTION, arguments) lists, one list per stage."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    if current:
        logical.append(current)
    stages = []
    for instr in logical:
        word, _, args = instr.partition(" ")
        word = word.upper()
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, args.strip()))
    return stages


def exec_form(args):
    try:
        value = json.loads(args)
        if isinstance(value, list):
            return [str(v) for v in value]
    except json.JSONDecodeError:
        pass
    return None


def run_topics_script(topics_service):
    """Runs the topics service's command with a stub kafka-topics.sh; returns its calls."""
    entrypoint = as_list(topics_service.get("entrypoint"))
    command = as_list(topics_service.get("command"))
    argv = entrypoint + command
    if not argv:
        return None, "the topics service has no entrypoint or command"
    # Compose interpolation: $$ is a literal $; any other $ is either filled in by compose
    # ($VAR, ${VAR}) or rejected by it ("Invalid interpolation format", e.g. a bare "$@").
    for a in argv:
        if "$" in a.replace("$$", ""):
            return None, f"a single $ (compose interpolates or rejects it; write $$ for the shell): {a!r}"
    argv = [a.replace("$$", "$") for a in argv]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "calls.jsonl")
        stub = os.path.join(tmp, "kafka-topics.sh")
        with open(stub, "w") as f:
            f.write("#!/usr/bin/python3\nimport json, sys\n"
                    f"open({log!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
        os.chmod(stub, 0o755)
        argv = [a.replace("/opt/kafka/bin/kafka-topics.sh", stub) for a in argv]
        if argv[0] in ("sh", "/bin/sh", "bash", "/bin/bash"):
            argv[0] = "/bin/bash"
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  env={"PATH": f"{tmp}:/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"running the topics script failed: {e}"
        if proc.returncode != 0:
            return None, f"the topics script exited {proc.returncode}: {proc.stderr.strip()}"
        calls = []
        if os.path.exists(log):
            with open(log) as f:
                calls = [json.loads(line) for line in f]
        return calls, None


def option_values(args, name):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))

    def read(rel):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            return f.read()

    compose_text = read("docker-compose.yml")
    compose = yaml.safe_load(compose_text)
    with open(os.path.join(root, "deploy", "streamrec.toml"), "rb") as f:
        toml = tomllib.load(f)
    settings = flatten(toml)
    documented = documented_keys(read("docs/config.md"))
    dockerfile = read("Dockerfile")

    services = compose.get("services") or {}
    for name in ("kafka", "topics", "streamrec"):
        check(name in services, f"service '{name}' exists")
    if failures:
        return
    kafka, topics, streamrec = services["kafka"], services["topics"], services["streamrec"]

    # --- kafka: one KRaft node ----------------------------------------------------------------
    env = env_of(kafka)
    check(str(kafka.get("image", "")).startswith("apache/kafka:"), "kafka runs the apache/kafka image")
    roles = set((env.get("KAFKA_PROCESS_ROLES") or "").replace(" ", "").split(","))
    check(roles == {"broker", "controller"}, "kafka: KAFKA_PROCESS_ROLES=broker,controller (KRaft, combined)")
    node_id = env.get("KAFKA_NODE_ID")
    check(bool(node_id), "kafka: KAFKA_NODE_ID is set")
    check(bool(env.get("CLUSTER_ID")), "kafka: CLUSTER_ID is set (the image formats KRaft storage with it)")
    voters = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") or ""
    lst = listeners(env.get("KAFKA_LISTENERS"))
    adv = listeners(env.get("KAFKA_ADVERTISED_LISTENERS"))
    controller_names = (env.get("KAFKA_CONTROLLER_LISTENER_NAMES") or "").split(",")
    check(bool(controller_names[0]) and all(n in lst for n in controller_names),
          "kafka: KAFKA_CONTROLLER_LISTENER_NAMES names a listener in KAFKA_LISTENERS")
    controller_port = lst.get(controller_names[0], "").rsplit(":", 1)[-1]
    check(voters == f"{node_id}@kafka:{controller_port}",
          f"kafka: KAFKA_CONTROLLER_QUORUM_VOTERS is this node's controller listener ({voters!r})")
    protocol_map = dict(p.split(":", 1) for p in (env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "").split(",") if ":" in p)
    check(all(n in protocol_map for n in lst), "kafka: every listener has a security protocol")
    check(all(n in lst for n in adv) and not any(n in adv for n in controller_names),
          "kafka: advertised listeners are broker listeners")
    inter = env.get("KAFKA_INTER_BROKER_LISTENER_NAME")
    check(inter in adv, "kafka: KAFKA_INTER_BROKER_LISTENER_NAME is an advertised listener")
    internal_address = adv.get(inter or "", "")
    check(internal_address == "kafka:9092", f"kafka: advertises kafka:9092 to other containers ({internal_address!r})")
    check(env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1",
          "kafka: offsets topic replication factor 1 (one node)")
    check("zookeeper" not in json.dumps(compose).lower(), "no ZooKeeper anywhere in the compose file")
    hc = kafka.get("healthcheck") or {}
    test = " ".join(as_list(hc.get("test")))
    check("kafka-broker-api-versions.sh" in test and not hc.get("disable"),
          "kafka: healthcheck runs kafka-broker-api-versions.sh")

    # --- topics: one-shot creation ------------------------------------------------------------
    check(depends_condition(topics, "kafka") == "service_healthy", "topics waits for kafka to be healthy")
    check(topics.get("restart", "no") in ("no", None), "topics is one-shot (restart: no)")
    calls, error = run_topics_script(topics)
    check(error is None, f"topics script runs against a stub kafka-topics.sh{': ' + error if error else ''}")
    created = {}
    for args in calls or []:
        if "--create" not in args:
            continue
        for t in option_values(args, "--topic"):
            created[t] = args
    expected = {t: str(settings.get(f"topics.{'dlq' if t == 'events.dlq' else t}", t)) for t in TOPICS}
    for t in expected.values():
        args = created.get(t)
        check(args is not None, f"topics creates '{t}'")
        if args is None:
            continue
        check("--if-not-exists" in args, f"topics: '{t}' is created with --if-not-exists")
        check(option_values(args, "--bootstrap-server") == [internal_address],
              f"topics: '{t}' is created through {internal_address}")
        parts = option_values(args, "--partitions")
        check(len(parts) == 1 and parts[0].isdigit() and int(parts[0]) >= 1, f"topics: '{t}' has a partition count")
    rec = created.get(expected["recommendations"]) or []
    check("cleanup.policy=compact" in option_values(rec, "--config"), "topics: 'recommendations' is compacted")

    # --- streamrec ------------------------------------------------------------------------------
    build = streamrec.get("build")
    if isinstance(build, str):
        build = {"context": build}
    build = build or {}
    dockerfile_path = os.path.normpath(os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile")))
    check(dockerfile_path == "Dockerfile", f"streamrec builds from ./Dockerfile ({dockerfile_path})")
    check(depends_condition(streamrec, "topics") == "service_completed_successfully",
          "streamrec depends on topics with condition service_completed_successfully")
    vols = mounts(streamrec)
    check(any(os.path.normpath(s) == "deploy/streamrec.toml" and t == CONFIG_PATH for s, t in vols),
          f"streamrec mounts deploy/streamrec.toml at {CONFIG_PATH}")
    state_dir = str(settings.get("state.dir", ""))
    named = set((compose.get("volumes") or {}).keys())
    check(any(t == state_dir and s in named for s, t in vols),
          f"streamrec keeps state.dir ({state_dir}) on a named volume")

    stages = dockerfile_stages(dockerfile)
    final = stages[-1] if stages else []
    cmd = as_list(streamrec["command"]) if "command" in streamrec else None
    if cmd is None:
        cmds = [exec_form(a) for w, a in final if w == "CMD"]
        cmd = cmds[-1] if cmds and cmds[-1] else []
    check(cmd[:1] == ["run"], "streamrec runs `streamrec run`")
    check(option_values(cmd, "--config") == [CONFIG_PATH], f"streamrec run reads {CONFIG_PATH}")
    effective = dict(settings)
    for kv in option_values(cmd, "--set"):
        k, _, v = kv.partition("=")
        effective[k] = v
    check(effective.get("kafka.bootstrap.servers") == internal_address,
          f"streamrec's kafka.bootstrap.servers is kafka's advertised {internal_address}")
    listen = str(effective.get("http.listen", "127.0.0.1:8080"))
    host, _, port = listen.rpartition(":")
    check(host in ("0.0.0.0", "[::]", "::"), f"http.listen binds all interfaces inside the container ({listen})")
    published = [str(p) for p in streamrec.get("ports") or []]
    check(any(p.split("/")[0].rsplit(":", 1)[-1] == port for p in published),
          f"streamrec publishes the http.listen port {port}")

    # --- deploy/streamrec.toml keys -----------------------------------------------------------
    for key in sorted(settings):
        check(key.startswith("kafka.") or key in documented,
              f"deploy/streamrec.toml: '{key}' is a kafka.* key or in docs/config.md")

    if len(sys.argv) > 2:
        proc = subprocess.run([sys.argv[2], "config", "--config", os.path.join(root, "deploy", "streamrec.toml")],
                              capture_output=True, text=True, timeout=60)
        check(proc.returncode == 0, "`streamrec config` accepts deploy/streamrec.toml"
              + (f": {proc.stderr.strip()}" if proc.returncode else ""))

    # --- Dockerfile and .dockerignore ---------------------------------------------------------
    check(len(stages) >= 2, "Dockerfile is multi-stage")
    entry = [exec_form(a) for w, a in final if w == "ENTRYPOINT"]
    check(bool(entry) and entry[-1] is not None and entry[-1][:1] in (["streamrec"], ["/usr/local/bin/streamrec"]),
          "Dockerfile: the final stage's ENTRYPOINT is [\"streamrec\"]")
    users = [a.split(":")[0] for w, a in final if w == "USER"]
    check(bool(users) and users[-1] not in ("root", "0"), "Dockerfile: the final stage runs as a non-root USER")
    check(any(w == "COPY" and "--from=" in a and a.endswith("/usr/local/bin/streamrec") for w, a in final),
          "Dockerfile: the final stage copies the built binary to /usr/local/bin/streamrec")
    # The image builds what CI builds: a package deps.sh installs for the build
    # but the image lacks fails the image at its cmake step, which CI never runs.
    built_with = set(apt_installed(stages[0]))
    wanted = [p for p in deps_packages(read("scripts/deps.sh"))
              if p not in NOT_IN_IMAGE and not p.startswith("python3")]
    check(bool(wanted), "scripts/deps.sh lists its packages in STREAMREC_PACKAGES=( ... )")
    missing = [p for p in wanted if p not in built_with]
    check(not missing, f"Dockerfile: the build stage installs what scripts/deps.sh builds with (missing: {missing})")
    ignore = [line.strip().strip("/") for line in read(".dockerignore").splitlines()]
    check("build*" in ignore and ".git" in ignore, ".dockerignore excludes build*/ and .git")


if __name__ == "__main__":
    try:
        main()
    except (OSError, yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        failures.append(str(e))
        print(f"FAILED {e}")
    # Not in the "N passed, N failed" form, which CI would take for a test runner's summary.
    print(f"check_compose: {len(failures)} of {passes + len(failures)} checks failed" if failures
          else f"check_compose: all {passes} checks hold")
    sys.exit(1 if failures else 0)
