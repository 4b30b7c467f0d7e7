// The link's `status` heartbeat, built so that it always encodes: one bad figure never stops the
// link (detector/status_header.py, which is the spec; docs/reliability.md scenario 19).
//
// A camera's status is made of figures measured elsewhere: a frame rate measured over frames
// that came in a burst (a stream's decoder catching up) can be thousands a second, over the
// protocol's 1000. Encoded as it was, the codec refused the header and the link thread ended the
// process. So each camera's status is fitted to the schema's field rules first (numbers clamped
// to their range, NaN and wrong kinds dropped or zero where required, text cut to its byte limit
// at a character boundary) and what was fixed is named in that camera's `fault`; a header that
// still fails is replaced by a minimal one (each camera's state and a fault naming the problem).
// Either is counted (`link.bad_status` in the status file) and logged once per camera and field.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "value.hpp"

namespace qc {

// `status` with every value the protocol refuses fixed, and what was fixed ("fps 2500.0 sent as 1000.0").
Value fit_camera_status(const Value& status, std::vector<std::string>& fixed);

// --fit-status: a msgpack map {case: camera status} in, JSON {case: {"fitted": ..., "fixed": [...]}} out, for
// tests/test_native_status_header.py to hold fit_camera_status to Python's. Throws wire::ProtocolError.
std::string fit_statuses_json(const std::string& msgpack_map);

class StatusHeaders {
public:
    StatusHeaders(std::vector<std::string> cameras, std::function<Value()> camera_status)
        : cameras_(std::move(cameras)), camera_status_(std::move(camera_status)) {}
    // A status header that encodes, whatever the cameras' figures.
    Value build(int64_t outbox_depth, int64_t outbox_bytes, int64_t refused, bool stopping);
    int64_t bad_status() const { return bad_status_; }  // headers sent fitted or minimal

private:
    Value minimal(const Value& statuses, const std::string& problem, const std::string& key, Value header);

    std::vector<std::string> cameras_;
    std::function<Value()> camera_status_;
    std::set<std::string> said_;  // what was logged already: once per camera and field
    int64_t bad_status_ = 0;
};

}  // namespace qc
