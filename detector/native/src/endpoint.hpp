// The link's security policy at start-up (docs/protocol.md section 10), as common/endpoint.py:
// tcp:// without CURVE is refused unless link.allow_plain_tcp (ConfigError naming the fixes);
// an ipc:// socket's folder is created 0700 if missing and must be a folder of this user that
// no other user can enter, in a folder others cannot write to (unless sticky).
#pragma once

#include <string>

#include "config.hpp"

namespace qc {

// ConfigError for tcp:// without CURVE, unless the person accepted the risk (allow_plain_tcp).
void check_plain_tcp(const LinkConfig& link, bool curve);
// The warning logged at every start when tcp:// runs without CURVE; "" otherwise.
std::string plain_tcp_warning(const LinkConfig& link, bool curve);
// Create (0700) or check the folder of an ipc:// socket; ConfigError naming the fix.
void private_folder(const std::string& endpoint);

}  // namespace qc
