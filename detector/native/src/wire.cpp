// The codec of docs/protocol.md; the field tables below are the spec's tables, in check order.
#include "wire.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <msgpack.hpp>
#include <random>

namespace qc {

bool Value::operator==(const Value& o) const {
    auto number = [](const Value& v) { return v.kind == Kind::Int ? double(v.i) : v.f; };
    if (kind != o.kind) {
        // An int and a float of the same value are equal (JSON vectors write 15.0 as a float).
        bool numbers = (kind == Kind::Int || kind == Kind::Float) && (o.kind == Kind::Int || o.kind == Kind::Float);
        return numbers && number(*this) == number(o);
    }
    switch (kind) {
        case Kind::Bool: return b == o.b;
        case Kind::Int: return i == o.i;
        case Kind::Big: case Kind::Float: return f == o.f;
        case Kind::Str: case Kind::Other: return s == o.s;
        case Kind::Array: return a == o.a;
        case Kind::Map: return m == o.m;
    }
    return false;
}

namespace wire {

const std::vector<std::string> kDetectorTypes = {"hello", "snapshot", "segment", "status"};
const std::vector<std::string> kUploaderTypes = {"ack", "nack", "credit"};

namespace {

using Kind = Value::Kind;
using Rule = std::function<std::string(const Value&)>;  // "" when fine, else what is wrong (bad_value)

constexpr int64_t kInt64Max = INT64_MAX;
constexpr int64_t kTimeMax = 253402300800000LL;

struct Field {
    std::string name;
    Kind kind;
    bool required;
    Rule rule;
};

bool in_set(char c, const char* extra) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && std::strchr(extra, c) != nullptr);
}

bool is_id(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) if (!in_set(c, "_-")) return false;
    return true;
}

bool is_camera(const std::string& s) {
    if (s.empty() || s.size() > 64 || s == "." || s == "..") return false;
    for (char c : s) if (!in_set(c, "_.-")) return false;
    return true;
}

bool lower_word(const std::string& s, size_t from, size_t to, size_t max_len, const char* extra) {
    // [a-z0-9][a-z0-9<extra>]{0,max_len-1}
    if (to <= from || to - from > max_len) return false;
    for (size_t k = from; k < to; ++k) {
        char c = s[k];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (k > from && std::strchr(extra, c) && c);
        if (!ok) return false;
    }
    return true;
}

bool is_token(const std::string& s) { return lower_word(s, 0, s.size(), 32, "._-"); }

bool is_media_type(const std::string& s) {
    size_t slash = s.find('/');
    return slash != std::string::npos && lower_word(s, 0, slash, 63, ".+-") &&
           lower_word(s, slash + 1, s.size(), 63, ".+-");
}

bool is_sha256(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// MAJOR.MINOR: (0|[1-9][0-9]{0,8}) twice; returns the major or -1.
long version_major(const std::string& s) {
    size_t dot = s.find('.');
    auto part = [&](size_t from, size_t to) {
        if (to <= from || to - from > 9) return false;
        if (s[from] == '0' && to - from > 1) return false;
        for (size_t k = from; k < to; ++k) if (s[k] < '0' || s[k] > '9') return false;
        return true;
    };
    if (dot == std::string::npos || !part(0, dot) || !part(dot + 1, s.size())) return -1;
    return std::stol(s.substr(0, dot));
}

bool valid_utf8(const std::string& s) {
    // Strict UTF-8 as Python decodes it: no overlongs, no surrogates, nothing above U+10FFFF.
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), k = 0;
    while (k < n) {
        unsigned c = p[k];
        if (c < 0x80) { ++k; continue; }
        size_t len; unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return false;
        if (k + len > n) return false;
        for (size_t j = 1; j < len; ++j) {
            if ((p[k + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[k + j] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        k += len;
    }
    return true;
}

bool is_int(const Value& v) { return v.kind == Kind::Int; }

Rule text(size_t max_len, size_t min_len = 0) {
    return [=](const Value& v) -> std::string {
        return v.s.size() >= min_len && v.s.size() <= max_len ? "" : "must be " + std::to_string(min_len) + "-" +
               std::to_string(max_len) + " bytes of UTF-8";
    };
}

Rule between(double lo, double hi) {
    return [=](const Value& v) -> std::string {
        if (v.kind == Kind::Int) {  // exact integer comparison (doubles lose precision near 2^63)
            bool ok = (lo <= -9.2e18 || v.i >= int64_t(lo)) && (hi >= 9.2e18 || v.i <= int64_t(hi));
            return ok ? "" : "is out of range";
        }
        if (!std::isfinite(v.f)) return "must be a finite number";
        return (lo <= v.f && v.f <= hi) ? "" : "is out of range";
    };
}

Rule matches(bool (*pred)(const std::string&), const char* what) {
    return [=](const Value& v) -> std::string { return pred(v.s) ? "" : std::string("must be ") + what; };
}

Rule prefixed(const std::string& prefix) {
    return [=](const Value& v) -> std::string {
        if (!is_media_type(v.s)) return "must be a lowercase media type such as image/jpeg";
        return v.s.rfind(prefix, 0) == 0 ? "" : "must start with " + prefix;
    };
}

std::string box_problem(const Value& v) {
    bool ok = v.kind == Kind::Array && v.a.size() == 4;
    if (ok) for (const auto& c : v.a) ok = ok && is_int(c) && c.i >= 0 && c.i <= 65535;
    return ok ? "" : "each box must be [x, y, w, h]: 4 integers in 0..65535 (pixels)";
}

std::string boxes(const Value& v) {
    if (v.a.size() > 256) return "at most 256 boxes";
    for (const auto& b : v.a) { auto p = box_problem(b); if (!p.empty()) return p; }
    return "";
}

std::string kind_problem(const Value& v, Kind kind) {
    bool ok = false;
    switch (kind) {
        case Kind::Str: ok = v.kind == Kind::Str; break;
        case Kind::Int:
            if (v.kind == Kind::Big) return "must fit in a signed 64-bit integer";
            ok = v.kind == Kind::Int; break;
        case Kind::Float: ok = v.kind == Kind::Int || v.kind == Kind::Float || v.kind == Kind::Big; break;
        case Kind::Bool: ok = v.kind == Kind::Bool; break;
        case Kind::Array: ok = v.kind == Kind::Array; break;
        case Kind::Map: ok = v.kind == Kind::Map; break;
        default: break;
    }
    return ok ? "" : "has the wrong kind";
}

Rule submap(const std::vector<Field>* fields, std::string what) {
    return [=](const Value& v) -> std::string {
        if (v.kind != Kind::Map) return what + " must be a map";
        for (const auto& f : *fields) {
            auto it = v.m.find(f.name);
            if (it == v.m.end()) {
                if (f.required) return what + " lacks " + f.name;
                continue;
            }
            auto problem = kind_problem(it->second, f.kind);
            if (problem.empty() && f.rule) problem = f.rule(it->second);
            if (!problem.empty()) return what + "." + f.name + " " + problem;
        }
        return "";
    };
}

const Rule kId = matches(is_id, "1-64 of A-Z a-z 0-9 _ -");
const Rule kTime = between(0, double(kTimeMax));
const Rule kCount = between(0, 9.3e18);
const Rule kPixels = between(1, 65535);
const Rule kSha = matches(is_sha256, "64 lowercase hex digits");
const Rule kCamera = [](const Value& v) -> std::string {
    return is_camera(v.s) ? "" : "must be 1-64 of A-Z a-z 0-9 _ . - (and not . or ..)";
};
const Rule kToken = matches(is_token, "a short lowercase word");

const std::vector<Field> kFaceFields = {
    {"time_ms", Kind::Int, true, kTime},
    {"box", Kind::Array, true, box_problem},
    {"score", Kind::Float, false, between(0.0, 1.0)},
    {"label", Kind::Str, false, text(64)},
};
constexpr double kInt64MaxD = 9.3e18;  // between() treats a bound past 9.2e18 as none: every int64 passes
constexpr size_t kFaultMax = 300;      // bytes (UTF-8) of a camera's fault (common/protocol_schema.py FAULT_MAX)
// The camera status fields (common/protocol_schema.py CAMERA_STATUS_FIELDS), in check order: one table
// for the codec's checks below and for fitting a camera's figures to them (status_header.cpp).
const std::vector<std::pair<std::string, FieldRule>> kCameraStatusRules = {
    {"state", {Kind::Str, true, 0, 0, 0}},
    {"fps", {Kind::Float, true, 0.0, 1000.0, 0}},
    {"frames", {Kind::Int, true, 0, kInt64MaxD, 0}},
    {"dropped", {Kind::Int, true, 0, kInt64MaxD, 0}},
    {"dark", {Kind::Bool, false, 0, 0, 0}},
    {"dropped_recording", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"width", {Kind::Int, false, 0, 65535, 0}},
    {"height", {Kind::Int, false, 0, 65535, 0}},
    {"events", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"last_event_ms", {Kind::Int, false, 0, double(kTimeMax), 0}},
    {"reopens", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"faces", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"fault", {Kind::Str, false, 0, 0, kFaultMax}},
    {"recorder", {Kind::Str, false, 0, 0, 0}},
    {"view", {Kind::Str, false, 0, 0, 0}},
    {"view_faults", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"recording", {Kind::Bool, false, 0, 0, 0}},
    {"write_failures", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"not_recorded", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"snapshots_replaced", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"damaged_packets", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"snapshots_failed", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"slow_opens", {Kind::Int, false, 0, kInt64MaxD, 0}},
    {"loops", {Kind::Map, false, 0, 0, 0}},  // loop name -> loop status; its content is not checked
};

std::vector<Field> camera_status_fields() {
    std::vector<Field> fields;
    for (const auto& [name, r] : kCameraStatusRules) {
        Rule rule = r.kind == Kind::Int || r.kind == Kind::Float ? between(r.lo, r.hi)
                    : r.kind != Kind::Str                         ? Rule{}
                    : r.max_bytes                                  ? text(r.max_bytes)
                                                                   : kToken;
        fields.push_back({name, r.kind, r.required, rule});
    }
    return fields;
}
const std::vector<Field> kCameraStatusFields = camera_status_fields();
const Rule kFace = submap(&kFaceFields, "face");
const Rule kCameraStatus = submap(&kCameraStatusFields, "camera status");

std::string face_sightings(const Value& v) {
    if (v.a.size() > 1024) return "at most 1024 faces";
    for (const auto& f : v.a) { auto p = kFace(f); if (!p.empty()) return p; }
    return "";
}

std::string camera_list(const Value& v) {
    if (v.a.empty() || v.a.size() > 64) return "must list 1 to 64 camera ids";
    for (const auto& c : v.a) if (c.kind != Kind::Str || !is_camera(c.s)) return "holds something that is not a camera id";
    return "";
}

std::string camera_map(const Value& v) {
    if (v.m.size() > 64) return "at most 64 cameras";
    for (const auto& [cam, status] : v.m) {
        if (!is_camera(cam)) return "key " + cam + " is not a camera id";
        auto p = kCameraStatus(status);
        if (!p.empty()) return "[" + cam + "]: " + p;
    }
    return "";
}

std::string capabilities(const Value& v) {
    if (v.a.size() > 64) return "must be at most 64 short lowercase words";
    for (const auto& c : v.a) if (c.kind != Kind::Str || !is_token(c.s)) return "must be at most 64 short lowercase words";
    return "";
}

const std::vector<Field> kCommonFields = {
    {"id", Kind::Str, true, kId},
    {"time_ms", Kind::Int, true, kTime},
};

const std::map<std::string, std::vector<Field>>& schemas() {
    static const std::map<std::string, std::vector<Field>> s = {
        {"hello", {
            {"detector", Kind::Str, true, text(64, 1)},
            {"detector_version", Kind::Str, true, text(64, 1)},
            {"cameras", Kind::Array, true, camera_list},
            {"capabilities", Kind::Array, false, capabilities},
            {"heartbeat_ms", Kind::Int, false, between(100, 60000)},
            {"ack_timeout_ms", Kind::Int, false, between(100, 3600000)},
        }},
        {"snapshot", {
            {"camera", Kind::Str, true, kCamera},
            {"event", Kind::Str, true, kId},
            {"seq", Kind::Int, false, between(0, 4294967295.0)},
            {"width", Kind::Int, true, kPixels},
            {"height", Kind::Int, true, kPixels},
            {"content_type", Kind::Str, true, prefixed("image/")},
            {"size", Kind::Int, true, kCount},
            {"sha256", Kind::Str, true, kSha},
            {"boxes", Kind::Array, false, boxes},
            {"faces", Kind::Array, false, boxes},
            {"motion_area", Kind::Float, false, between(0.0, 1.0)},
        }},
        {"segment", {
            {"camera", Kind::Str, true, kCamera},
            {"event", Kind::Str, true, kId},
            {"seq", Kind::Int, true, between(0, 4294967295.0)},
            {"final", Kind::Bool, true, nullptr},
            {"start_ms", Kind::Int, true, kTime},
            {"end_ms", Kind::Int, true, kTime},
            {"frames", Kind::Int, true, between(1, 9.3e18)},
            {"fps", Kind::Float, true, between(0.001, 1000.0)},
            {"width", Kind::Int, true, kPixels},
            {"height", Kind::Int, true, kPixels},
            {"container", Kind::Str, true, kToken},
            {"codec", Kind::Str, true, kToken},
            {"content_type", Kind::Str, true, prefixed("video/")},
            {"size", Kind::Int, true, kCount},
            {"sha256", Kind::Str, true, kSha},
            {"faces", Kind::Array, false, face_sightings},
        }},
        {"status", {
            {"cameras", Kind::Map, true, camera_map},
            {"outbox_depth", Kind::Int, true, kCount},
            {"outbox_bytes", Kind::Int, false, kCount},
            {"refused", Kind::Int, false, kCount},
            {"stopping", Kind::Bool, false, nullptr},  // 1.1: the last status before a clean stop
        }},
        {"ack", {
            {"ref", Kind::Str, true, kId},
            {"duplicate", Kind::Bool, false, nullptr},
        }},
        {"nack", {
            {"ref", Kind::Str, true, text(64)},
            {"code", Kind::Str, true, kToken},
            {"text", Kind::Str, true, text(1024)},
            {"retry", Kind::Bool, true, nullptr},
        }},
        {"credit", {
            {"messages", Kind::Int, true, between(0, 1000000)},
            {"bytes", Kind::Int, true, kCount},
            {"reason", Kind::Str, false, text(1024)},
            {"max_payload", Kind::Int, false, between(1, 9.3e18)},
        }},
    };
    return s;
}

void check_field(const Value& header, const std::string& where, const Field& f) {
    auto it = header.m.find(f.name);
    if (it == header.m.end()) {
        if (f.required) throw ProtocolError("missing_field", where + " lacks required field " + f.name);
        return;
    }
    auto problem = kind_problem(it->second, f.kind);
    if (!problem.empty()) throw ProtocolError("wrong_type", where + "." + f.name + " " + problem);
    if (f.rule) {
        problem = f.rule(it->second);
        if (!problem.empty()) throw ProtocolError("bad_value", where + "." + f.name + " " + problem);
    }
}

Value from_object(const msgpack::object& o) {
    Value v;
    switch (o.type) {
        case msgpack::type::BOOLEAN: return Value::boolean(o.via.boolean);
        case msgpack::type::POSITIVE_INTEGER:
            if (o.via.u64 > uint64_t(kInt64Max)) { v.kind = Kind::Big; v.f = double(o.via.u64); return v; }
            return Value::integer(int64_t(o.via.u64));
        case msgpack::type::NEGATIVE_INTEGER: return Value::integer(o.via.i64);
        case msgpack::type::FLOAT32: case msgpack::type::FLOAT64: return Value::real(o.via.f64);
        case msgpack::type::STR: {
            std::string s(o.via.str.ptr, o.via.str.size);
            if (!valid_utf8(s)) throw ProtocolError("bad_header", "a str is not valid UTF-8");
            return Value::text(std::move(s));
        }
        case msgpack::type::ARRAY: {
            v = Value::array();
            v.a.reserve(o.via.array.size);
            for (uint32_t k = 0; k < o.via.array.size; ++k) v.a.push_back(from_object(o.via.array.ptr[k]));
            return v;
        }
        case msgpack::type::MAP: {
            v = Value::map();
            for (uint32_t k = 0; k < o.via.map.size; ++k) {
                const auto& kv = o.via.map.ptr[k];
                if (kv.key.type != msgpack::type::STR) throw ProtocolError("bad_header", "a map key is not text");
                std::string key(kv.key.via.str.ptr, kv.key.via.str.size);
                if (!valid_utf8(key)) throw ProtocolError("bad_header", "a map key is not valid UTF-8");
                v.m[key] = from_object(kv.val);  // a repeated key: the last one wins
            }
            return v;
        }
        case msgpack::type::NIL: v.s = "nil"; return v;
        case msgpack::type::BIN: v.s = "binary"; return v;
        default: v.s = "ext"; return v;
    }
}

Value unpack(const std::string& raw) {
    if (raw.size() > kMaxHeaderBytes) throw ProtocolError("bad_header", "header is over 65536 bytes");
    msgpack::object_handle handle;
    std::size_t offset = 0;
    try {
        msgpack::unpack_limit limit(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, kMaxDepth);
        handle = msgpack::unpack(raw.data(), raw.size(), offset, nullptr, nullptr, limit);
    } catch (const msgpack::depth_size_overflow&) {
        throw ProtocolError("bad_header", "header nests deeper than 32 levels");
    } catch (const std::exception& e) {
        throw ProtocolError("bad_header", std::string("header is not one msgpack value (") + e.what() + ")");
    }
    if (offset != raw.size()) throw ProtocolError("bad_header", "header is not one msgpack value (trailing bytes)");
    if (handle.get().type != msgpack::type::MAP) throw ProtocolError("bad_header", "header is not a msgpack map");
    return from_object(handle.get());
}

// Whether every str (value or key) is UTF-8 and no key is an array or map: what a generic
// msgpack reader needs to read a map at all, before this protocol's own rules.
bool readable(const msgpack::object& o) {
    if (o.type == msgpack::type::STR) return valid_utf8(std::string(o.via.str.ptr, o.via.str.size));
    if (o.type == msgpack::type::ARRAY) {
        for (uint32_t k = 0; k < o.via.array.size; ++k) if (!readable(o.via.array.ptr[k])) return false;
    } else if (o.type == msgpack::type::MAP) {
        for (uint32_t k = 0; k < o.via.map.size; ++k) {
            const auto& kv = o.via.map.ptr[k];
            if (kv.key.type == msgpack::type::ARRAY || kv.key.type == msgpack::type::MAP) return false;
            if (!readable(kv.key) || !readable(kv.val)) return false;
        }
    }
    return true;
}

// The id of a broken message, for the nack's ref (spec section 6): readable when frame 2
// is at most 64 KiB and one msgpack map (whatever else is wrong: deep nesting, a binary
// key) whose "id" is a str following the id rule.
std::string readable_ref(const Frames& frames) {
    if (frames.size() < 2 || frames[1].size() > kMaxHeaderBytes) return "";
    try {
        std::size_t offset = 0;
        msgpack::unpack_limit limit(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 1024);
        auto handle = msgpack::unpack(frames[1].data(), frames[1].size(), offset, nullptr, nullptr, limit);
        const msgpack::object& o = handle.get();
        if (offset != frames[1].size() || o.type != msgpack::type::MAP || !readable(o)) return "";
        std::string ref;
        for (uint32_t k = 0; k < o.via.map.size; ++k) {  // a repeated key: the last one wins
            const auto& kv = o.via.map.ptr[k];
            if (kv.key.type == msgpack::type::STR && std::string(kv.key.via.str.ptr, kv.key.via.str.size) == "id")
                ref = kv.val.type == msgpack::type::STR ? std::string(kv.val.via.str.ptr, kv.val.via.str.size) : "";
        }
        return is_id(ref) ? ref : "";
    } catch (const std::exception&) {
        return "";
    }
}

bool accepted(const std::string& type, const std::vector<std::string>& accept) {
    if (!schemas().count(type)) return false;
    if (accept.empty()) return true;
    for (const auto& t : accept) if (t == type) return true;
    return false;
}

// -- encoding ----------------------------------------------------------------------

using Packer = msgpack::packer<msgpack::sbuffer>;

void pack(Packer& out, msgpack::sbuffer& buffer, const Value& v) {
    switch (v.kind) {
        case Kind::Bool: v.b ? out.pack_true() : out.pack_false(); break;
        case Kind::Int: out.pack_int64(v.i); break;  // shortest form, positive forms when >= 0
        case Kind::Float: {  // always float 64: msgpack-cxx's pack_double writes whole numbers as ints
            uint64_t bits;
            std::memcpy(&bits, &v.f, 8);
            char raw[9] = {char(0xcb)};
            for (int k = 0; k < 8; ++k) raw[1 + k] = char(bits >> (56 - 8 * k));
            buffer.write(raw, 9);
            break;
        }
        case Kind::Str: out.pack_str(uint32_t(v.s.size())); out.pack_str_body(v.s.data(), uint32_t(v.s.size())); break;
        case Kind::Array:
            out.pack_array(uint32_t(v.a.size()));
            for (const auto& x : v.a) pack(out, buffer, x);
            break;
        case Kind::Map:
            out.pack_map(uint32_t(v.m.size()));
            for (const auto& [k, x] : v.m) {  // std::map: ascending bytes, the canonical order
                out.pack_str(uint32_t(k.size()));
                out.pack_str_body(k.data(), uint32_t(k.size()));
                pack(out, buffer, x);
            }
            break;
        default: throw ProtocolError("wrong_type", "cannot encode a " + v.s);
    }
}

// A float field holding an integer is written as float 64 (canonical rule 3).
void floats_as_floats(Value& map, const std::vector<Field>& fields) {
    for (const auto& f : fields) {
        auto it = map.m.find(f.name);
        if (f.kind == Kind::Float && it != map.m.end() && it->second.kind == Kind::Int)
            it->second = Value::real(double(it->second.i));
    }
}

}  // namespace

void validate_header(const Value& header, const std::vector<std::string>& accept) {
    check_field(header, "header", {"v", Kind::Str, true, nullptr});
    if (version_major(header.at("v").s) != 1)
        throw ProtocolError("bad_version", "header v is " + header.at("v").s + "; this side speaks 1.x");
    check_field(header, "header", {"type", Kind::Str, true, nullptr});
    const std::string& type = header.at("type").s;
    if (!accepted(type, accept)) throw ProtocolError("bad_type", "message type " + type.substr(0, 64) + " is not accepted here");
    for (const auto& f : kCommonFields) check_field(header, type, f);
    for (const auto& f : schemas().at(type)) check_field(header, type, f);
    if (type == "segment" && header.at("end_ms").i < header.at("start_ms").i)
        throw ProtocolError("bad_value", "segment.end_ms is before start_ms");
    if (type == "credit" && header.at("messages").i == 0 && !header.has("reason"))
        throw ProtocolError("missing_field", "credit with messages 0 (paused) needs a reason");
}

std::string encode_header(const Value& header_in) {
    validate_header(header_in);
    Value header = header_in;
    const std::string type = header.at("type").s;
    floats_as_floats(header, schemas().at(type));
    if (type == "segment" && header.has("faces"))
        for (auto& face : header["faces"].a) floats_as_floats(face, kFaceFields);
    if (type == "status")
        for (auto& [cam, status] : header["cameras"].m) floats_as_floats(status, kCameraStatusFields);
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    pack(packer, buffer, header);
    return std::string(buffer.data(), buffer.size());
}

Frames encode(const Message& message) {
    Frames frames{kProtocolFrame, encode_header(message.header)};
    if (message.payload) frames.push_back(*message.payload);
    return frames;
}

Value unpack_header(const std::string& raw) { return unpack(raw); }

Message decode(const Frames& frames, int64_t max_payload, const std::vector<std::string>& accept) {
    try {
        if (frames.empty()) throw ProtocolError("bad_frames", "no frames");
        const std::string& proto = frames[0];
        if (proto != kProtocolFrame) {
            if (proto.size() == 4 && proto.compare(0, 3, "QSC") == 0 && proto[3] >= '0' && proto[3] <= '9')
                throw ProtocolError("bad_version", "protocol " + proto + " is not supported; this side speaks QSC1");
            throw ProtocolError("bad_frames", "first frame is not QSC1");
        }
        if (frames.size() < 2 || frames.size() > 3)
            throw ProtocolError("bad_frames", "expected 2 or 3 frames, got " + std::to_string(frames.size()));
        Message message{unpack(frames[1]), std::nullopt};
        validate_header(message.header, accept);
        if (frames.size() == 3) message.payload = frames[2];
        const std::string& type = message.type();
        if (type == "snapshot" || type == "segment") {
            if (!message.payload) throw ProtocolError("bad_frames", type + " needs a payload frame");
            int64_t size = message.header.at("size").i;
            if (size > max_payload || int64_t(message.payload->size()) > max_payload)
                throw ProtocolError("too_large", "payload over the " + std::to_string(max_payload) + "-byte limit");
            if (int64_t(message.payload->size()) != size)
                throw ProtocolError("size_mismatch", "payload is " + std::to_string(message.payload->size()) +
                                                         " bytes, header says " + std::to_string(size));
            if (sha256_hex(*message.payload) != message.header.at("sha256").s)
                throw ProtocolError("sha256_mismatch", "payload does not hash to its sha256");
        } else if (message.payload) {
            throw ProtocolError("bad_frames", type + " takes no payload frame");
        }
        return message;
    } catch (ProtocolError& e) {
        e.ref = readable_ref(frames);
        throw;
    }
}

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned k = 0; k < len; ++k) { out += hex[digest[k] >> 4]; out += hex[digest[k] & 15]; }
    return out;
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string new_message_id() {
    // 13 hex digits of Unix ms + 13 random hex digits: unique and sorted by creation time.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%013llx%013llx", static_cast<unsigned long long>(now_ms()),
                  static_cast<unsigned long long>(rng() & 0xFFFFFFFFFFFFFULL));
    return std::string(buf, 26);
}

Value make_header(const std::string& type) {
    return Value::map({{"v", Value::text(kVersion)}, {"type", Value::text(type)},
                       {"id", Value::text(new_message_id())}, {"time_ms", Value::integer(now_ms())}});
}

const FieldRule* camera_status_rule(const std::string& name) {
    for (const auto& [field, rule] : kCameraStatusRules)
        if (field == name) return &rule;
    return nullptr;
}

std::string camera_status_problem(const std::string& name, const Value& value) {
    for (const auto& f : kCameraStatusFields) {
        if (f.name != name) continue;
        std::string problem = kind_problem(value, f.kind);
        return problem.empty() && f.rule ? f.rule(value) : problem;
    }
    return "";
}

}  // namespace wire
}  // namespace qc
