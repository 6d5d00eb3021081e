# Test registry. Unit tests (cmocka) for the pure cores; integration tests
# against a real Kafka broker and a private redis-server started by the
# `services` fixture; librdkafka's mock cluster where a fault is injected.

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
rw_unit_test(test_json  LIBS rw_common)
rw_unit_test(test_i64map LIBS rw_common)
rw_unit_test(test_dl     LIBS rw_common)
rw_unit_test(test_repeat LIBS rw_common)
rw_unit_test(test_kafka_log LIBS rw_common)
rw_unit_test(test_codec LIBS rw_codec rw_common)
rw_unit_test(test_gen   LIBS rw_gen rw_codec rw_common)
rw_unit_test(test_rules LIBS rw_rules rw_common)
rw_unit_test(test_portfolio LIBS rw_rules rw_common)
rw_unit_test(test_account LIBS rw_state rw_rules rw_common)
rw_unit_test(test_fold_copy LIBS rw_state rw_common)
rw_unit_test(test_replay LIBS rw_replay rw_state rw_rules rw_codec rw_common)
rw_unit_test(test_alert_diff LIBS rw_diff rw_codec rw_common)
rw_unit_test(test_due_index LIBS rw_replay)
rw_unit_test(test_prefetch LIBS rw_kafka rw_common)
rw_unit_test(test_idle LIBS rw_boundary rw_state rw_rules rw_codec rw_common)
rw_unit_test(test_status LIBS rw_ops rw_common)
rw_unit_test(test_metrics LIBS rw_ops rw_common)
rw_unit_test(test_alertmanager LIBS rw_am rw_ops rw_codec rw_common)

# docs/contract.md against the schemas, the catalogue, the rules, the property
# table and the DLQ reasons; README and docs link nothing outside the repository.
add_test(NAME unit.contract_doc
         COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/integration/contract_doc.py ${CMAKE_SOURCE_DIR})
set_tests_properties(unit.contract_doc PROPERTIES LABELS unit TIMEOUT 60)

# Fault injection on librdkafka's mock cluster, with a private redis-server
# child: needs no services fixture.
add_executable(test_mock_faults tests/integration/test_mock_faults.c)
target_link_libraries(test_mock_faults rw_kafka rw_gen PkgConfig::CMOCKA)
add_test(NAME integration.mock_faults COMMAND test_mock_faults)
add_executable(test_state tests/integration/test_state.c)
target_link_libraries(test_state rw_state PkgConfig::CMOCKA m)
add_test(NAME integration.state COMMAND test_state)
set_tests_properties(integration.state PROPERTIES LABELS integration TIMEOUT 120)
add_executable(test_boundary tests/integration/test_boundary.c)
target_link_libraries(test_boundary rw_boundary PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME integration.boundary COMMAND test_boundary)
set_tests_properties(integration.boundary PROPERTIES LABELS integration TIMEOUT 300)
set_tests_properties(integration.mock_faults PROPERTIES LABELS integration TIMEOUT 300)

# Integration tests: the `services` fixture starts a real Kafka broker (or uses
# KAFKA_BOOTSTRAP) and a private redis-server once, and stops them at the end,
# also when a test fails.
set(RW_SERVICES_DIR ${CMAKE_BINARY_DIR}/services)
add_test(NAME services.start
         COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/services.sh start ${RW_SERVICES_DIR})
set_tests_properties(services.start PROPERTIES FIXTURES_SETUP services TIMEOUT 900)
add_test(NAME services.stop
         COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/services.sh stop ${RW_SERVICES_DIR})
set_tests_properties(services.stop PROPERTIES FIXTURES_CLEANUP services TIMEOUT 120)

function(rw_integration_test name)
  add_test(NAME integration.${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh)
  set_tests_properties(integration.${name} PROPERTIES
    FIXTURES_REQUIRED services LABELS integration TIMEOUT 300
    ENVIRONMENT "RW_BIN=$<TARGET_FILE:riskwatch>;RW_SERVICES=${RW_SERVICES_DIR};RW_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

rw_integration_test(e2e_kcat)
rw_integration_test(e2e_inactivity)
rw_integration_test(gathered_due)
rw_integration_test(due_keep)
rw_integration_test(write_linger)
rw_integration_test(redis_settings)
rw_integration_test(e2e_outage)
rw_integration_test(e2e_outage_live)
rw_integration_test(e2e_readable)
foreach(t cli demo)
  add_test(NAME integration.${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
  set_tests_properties(integration.${t} PROPERTIES LABELS integration TIMEOUT 300
    ENVIRONMENT "RW_BIN=$<TARGET_FILE:riskwatch>;RW_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# The demo under valgrind (memcheck): no invalid access, no definite leak.
if(NOT RW_SANITIZE)
  find_program(VALGRIND valgrind)
  if(VALGRIND)
    add_test(NAME valgrind.demo
             COMMAND ${VALGRIND} --leak-check=full --errors-for-leak-kinds=definite,indirect
                     --error-exitcode=9 -q $<TARGET_FILE:riskwatch> demo
                     -X demo.accounts=30 -X demo.days=60)
    set_tests_properties(valgrind.demo PROPERTIES LABELS valgrind TIMEOUT 600)
  endif()
endif()
rw_integration_test(e2e_poison)
rw_integration_test(e2e_future)
rw_integration_test(e2e_undeliverable)
rw_integration_test(decode_gen)
rw_unit_test(test_registry LIBS rw_codec rw_common PkgConfig::CURL)
# Starts a private Apicurio Registry (Java; fetched once into the cache).
set_tests_properties(unit.test_registry PROPERTIES TIMEOUT 300)
rw_integration_test(registry)
rw_integration_test(state_equivalence)
rw_integration_test(e2e_population)
rw_integration_test(determinism)
rw_integration_test(run_input)
rw_integration_test(output_topics)
rw_integration_test(escape)
rw_integration_test(lost_writes)
rw_integration_test(reply_lost)
rw_integration_test(heap_release)
rw_integration_test(replay)

# Stalls of Redis and of Kafka (a mock cluster in a process of its own, the
# shared broker is never stopped) against a clean pass.
add_executable(mock_cluster tests/integration/mock_cluster.c)
target_link_libraries(mock_cluster PkgConfig::RDKAFKA)
add_test(NAME integration.fault_matrix
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/fault_matrix.sh)
set_tests_properties(integration.fault_matrix PROPERTIES
  FIXTURES_REQUIRED services LABELS integration TIMEOUT 300
  ENVIRONMENT "RW_BIN=$<TARGET_FILE:riskwatch>;RW_SERVICES=${RW_SERVICES_DIR};RW_SOURCE_DIR=${CMAKE_SOURCE_DIR};RW_MOCK_CLUSTER=$<TARGET_FILE:mock_cluster>")
rw_integration_test(e2e_quiet)
rw_integration_test(e2e_partition_gap)
rw_integration_test(status)
rw_integration_test(metrics)
rw_integration_test(alertmanager)
rw_integration_test(tail)
