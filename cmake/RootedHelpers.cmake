# One helper per kind of target, so every target of ours gets the same
# warnings, include roots and sanitizer settings.

set(ROOTED_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)
if(ROOTED_WERROR)
  list(APPEND ROOTED_WARNINGS -Werror)
endif()

function(_rooted_common_settings target)
  target_compile_options(${target} PRIVATE ${ROOTED_WARNINGS})
  target_compile_features(${target} PUBLIC cxx_std_20)
endfunction()

# rooted_library(NAME SRCS ... DEPS ...)
function(rooted_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  _rooted_common_settings(${name})
endfunction()

# rooted_executable(NAME SRCS ... DEPS ...)
function(rooted_executable name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  if(TARGET PkgConfig::TCMALLOC)
    # Nothing calls it by name (it replaces malloc and free), so a linker
    # that drops unused libraries must be told to keep it.
    target_link_options(${name} PRIVATE "LINKER:--no-as-needed")
    target_link_libraries(${name} PRIVATE PkgConfig::TCMALLOC)
    target_compile_definitions(${name} PRIVATE ROOTED_TCMALLOC=1)
  endif()
  _rooted_common_settings(${name})
endfunction()

# rooted_test(NAME SRCS ... DEPS ... [LABELS ...])
# Integration tests carry the label "integration"; they start real
# redis-server and broker processes, so they are not run in parallel with
# each other beyond what ctest -j allows.
function(rooted_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  rooted_executable(${name} SRCS ${ARG_SRCS} DEPS ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 600
    ENVIRONMENT "ROOTED_BIN_DIR=${PROJECT_BINARY_DIR};ROOTED_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
