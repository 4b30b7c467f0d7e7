// The wire protocol (docs/protocol.md): the only place frames are built or read.
//
// encode() writes canonical headers (sorted keys, shortest forms, float fields
// as float 64) after validating them; decode() runs the spec's checks in the
// spec's order, so a broken message gets the same nack code here as from the
// Python codec. Both are pure functions of bytes, tested against the vectors
// in tests/vectors/protocol by the --vectors mode of the binary.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "value.hpp"

namespace qc::wire {

constexpr const char* kProtocolFrame = "QSC1";
constexpr const char* kVersion = "1.1";
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr int64_t kDefaultMaxPayload = 64LL * 1024 * 1024;
constexpr int kMaxDepth = 32;  // arrays and maps nest at most this deep, the header map counting as 1

class ProtocolError : public std::runtime_error {
public:
    ProtocolError(std::string code, std::string text)
        : std::runtime_error(code + ": " + text), code(std::move(code)), text(std::move(text)) {}
    std::string code, text, ref;
    bool retry() const { return code == "busy" || code == "internal"; }
};

struct Message {
    Value header;
    std::optional<std::string> payload;
    const std::string& type() const { return header.at("type").s; }
    const std::string& id() const { return header.at("id").s; }
};

using Frames = std::vector<std::string>;

extern const std::vector<std::string> kDetectorTypes;  // hello, snapshot, segment, status
extern const std::vector<std::string> kUploaderTypes;  // ack, nack, credit

// Check the fields in the spec's order; throws ProtocolError. Empty accept = any type.
void validate_header(const Value& header, const std::vector<std::string>& accept = {});
// Canonical msgpack bytes of a (validated) header.
std::string encode_header(const Value& header);
Frames encode(const Message& message);
// Parse and check frames in the spec's order; throws ProtocolError with ref set when readable.
Message decode(const Frames& frames, int64_t max_payload, const std::vector<std::string>& accept);
// A header's msgpack bytes as a Value (throws ProtocolError bad_header), for reading the outbox.
Value unpack_header(const std::string& raw);

// A camera status field's rule (docs/protocol.md), for fitting a figure to it rather than refusing the
// whole status (status_header.cpp).
struct FieldRule {
    Value::Kind kind;
    bool required;
    double lo, hi;     // a number's range (Int, Float)
    size_t max_bytes;  // text: its UTF-8 byte limit; 0: a token (a short lowercase word)
};
// The rule of camera status field `name`; nullptr for a field the protocol does not name.
const FieldRule* camera_status_rule(const std::string& name);
// What is wrong with `value` as camera status field `name` ("" when nothing is, or the field is not named).
std::string camera_status_problem(const std::string& name, const Value& value);

// A header with the common fields filled in: v, type, a new id, time_ms now.
Value make_header(const std::string& type);
std::string new_message_id();
int64_t now_ms();
std::string sha256_hex(const std::string& data);

}  // namespace qc::wire
