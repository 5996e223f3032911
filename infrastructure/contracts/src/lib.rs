//! Nothing to build: the contract suites are the integration tests in `tests/contracts/`,
//! one suite per driven port, each run against every adapter of that port.
