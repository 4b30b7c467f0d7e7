// --vectors DIR: the codec against the protocol's test vectors (tests/vectors/protocol).
#pragma once
#include <string>

namespace qc {
// Prints one PASS/FAIL line per vector; returns the exit code (0 only if all pass).
int run_vectors(const std::string& folder);
}
