# Helpers that give every component the same shape: one static library
# `streamrec_<name>` (alias `streamrec::<name>`), public headers only under
# include/streamrec/<name>/, C++20 and the project's warnings.

set(STREAMREC_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wno-missing-field-initializers)

function(streamrec_add_library)
  cmake_parse_arguments(ARG "" "NAME;DESCRIPTION" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(include_root "${CMAKE_CURRENT_SOURCE_DIR}/include/streamrec")
  file(GLOB owners LIST_DIRECTORIES true RELATIVE "${include_root}" "${include_root}/*")
  if(NOT owners STREQUAL ARG_NAME)
    message(FATAL_ERROR "streamrec_${ARG_NAME}: public headers must live only under "
                        "include/streamrec/${ARG_NAME}/ (found: ${owners})")
  endif()
  set(target streamrec_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(streamrec::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include"
    PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE ${STREAMREC_WARNINGS})
endfunction()

# Links an executable with the project's malloc (STREAMREC_JEMALLOC).
function(streamrec_link_allocator target)
  if(TARGET PkgConfig::JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
    # For tests that check the link took (tests/base/allocator_test.cc).
    target_compile_definitions(${target} PRIVATE STREAMREC_LINKS_JEMALLOC=1)
  endif()
endfunction()

# streamrec_add_test(NAME state SOURCES ... DEPS ... [LABEL integration])
# One Catch2 executable per component, registered test by test with ctest.
# Each test carries one ctest label: `unit` (default, seconds), `integration`
# (real broker or store across processes), or another slow suite's name.
function(streamrec_add_test)
  cmake_parse_arguments(ARG "" "NAME;LABEL" "SOURCES;DEPS" ${ARGN})
  set(target streamrec_${ARG_NAME}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE streamrec_test_support ${ARG_DEPS})
  streamrec_link_allocator(${target})
  target_compile_options(${target} PRIVATE ${STREAMREC_WARNINGS})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  # --warn NoTests: a registered name that selects no test fails instead of
  # passing silently (a ';' in a test's name splits it in ctest, so its test
  # never ran).
  catch_discover_tests(${target}
    TEST_PREFIX "${ARG_NAME}:"
    EXTRA_ARGS --warn NoTests
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    PROPERTIES LABELS ${ARG_LABEL})
endfunction()
