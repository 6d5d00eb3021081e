# Test registry. Unit tests (cmocka) for the pure cores; integration tests
# against a real Kafka broker and a private redis-server started by the
# `services` fixture; librdkafka's mock cluster where a fault is injected.

if(NOT CMOCKA_FOUND)
  message(FATAL_ERROR "cmocka not found: run scripts/setup.sh")
endif()

function(rw_unit_test name)
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/${name}.c)
    add_executable(${name} tests/unit/${name}.c)
    target_link_libraries(${name} ${T_LIBS} PkgConfig::CMOCKA)
    add_test(NAME unit.${name} COMMAND ${name})
    set_tests_properties(unit.${name} PROPERTIES
      ENVIRONMENT "RW_SOURCE_DIR=${CMAKE_SOURCE_DIR}" LABELS unit TIMEOUT 120)
  endif()
endfunction()

rw_unit_test(test_conf  LIBS rw_common)
rw_unit_test(test_codec LIBS rw_codec rw_common)
rw_unit_test(test_gen   LIBS rw_gen rw_codec rw_common)
rw_unit_test(test_rules LIBS rw_rules rw_common)
