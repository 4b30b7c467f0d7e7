// The vector runner: every valid vector decodes to its header and (canonical ones) encodes
// from its JSON header to its exact frames; every invalid one is refused with its nack.
#include "vectors.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "wire.hpp"

namespace qc {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

Value from_json(const json& j) {
    if (j.is_object()) {
        Value v = Value::map();
        for (auto it = j.begin(); it != j.end(); ++it) v.m[it.key()] = from_json(it.value());
        return v;
    }
    if (j.is_array()) {
        Value v = Value::array();
        for (const auto& x : j) v.a.push_back(from_json(x));
        return v;
    }
    if (j.is_string()) return Value::text(j.get<std::string>());
    if (j.is_boolean()) return Value::boolean(j.get<bool>());
    if (j.is_number_unsigned()) {
        auto u = j.get<uint64_t>();
        if (u > uint64_t(INT64_MAX)) { Value v; v.kind = Value::Kind::Big; v.f = double(u); return v; }
        return Value::integer(int64_t(u));
    }
    if (j.is_number_integer()) return Value::integer(j.get<int64_t>());
    if (j.is_number_float()) return Value::real(j.get<double>());
    return Value{};
}

std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t k = 0; k + 1 < hex.size(); k += 2) out += char(std::stoi(hex.substr(k, 2), nullptr, 16));
    return out;
}

wire::Frames frames_of(const json& vector) {
    wire::Frames frames;
    for (const auto& f : vector.at("frames")) frames.push_back(unhex(f.get<std::string>()));
    return frames;
}

const std::vector<std::string>& accepts(const std::string& sender) {
    return sender == "detector" ? wire::kDetectorTypes : wire::kUploaderTypes;
}

// "" when the vector passes, else why not.
std::string check_valid(const json& v) {
    auto frames = frames_of(v);
    wire::Message message;
    try {
        message = wire::decode(frames, wire::kDefaultMaxPayload, accepts(v.at("sender")));
    } catch (const wire::ProtocolError& e) {
        return std::string("refused: ") + e.what();
    }
    Value expected = from_json(v.at("header"));
    if (!(message.header == expected)) return "decoded header differs from the vector's header";
    if (message.payload.has_value() != v.at("payload_frame").get<bool>()) return "payload frame presence differs";
    if (v.at("canonical").get<bool>()) {
        wire::Message built{expected, frames.size() == 3 ? std::optional<std::string>(frames[2]) : std::nullopt};
        try {
            if (wire::encode(built) != frames) return "encoding the JSON header does not give the vector's frames";
        } catch (const wire::ProtocolError& e) {
            return std::string("encoding failed: ") + e.what();
        }
    }
    return "";
}

std::string check_invalid(const json& v) {
    auto frames = frames_of(v);
    const auto& nack = v.at("nack");
    const auto& receiver = v.at("receiver").get<std::string>();
    const auto& accept = receiver == "uploader" ? wire::kDetectorTypes : wire::kUploaderTypes;
    int64_t max_payload = v.value("max_payload", wire::kDefaultMaxPayload);
    try {
        auto message = wire::decode(frames, max_payload, accept);
        if (v.at("level") == "receiver")  // checks 12-14 are the uploader's: the codec must let it through
            return message.id() == nack.at("ref").get<std::string>() ? "" : "decoded with another id";
        return "accepted; expected nack " + nack.at("code").get<std::string>();
    } catch (const wire::ProtocolError& e) {
        if (v.at("level") == "receiver") return std::string("refused by the codec: ") + e.what();
        if (e.code != nack.at("code").get<std::string>())
            return "nack " + e.code + " (" + e.text + "); expected " + nack.at("code").get<std::string>();
        if (e.ref != nack.at("ref").get<std::string>()) return "nack ref '" + e.ref + "' differs";
        if (e.retry() != nack.at("retry").get<bool>()) return "nack retry differs";
        return "";
    }
}

}  // namespace

int run_vectors(const std::string& folder) {
    int failed = 0, total = 0;
    for (const char* kind : {"valid", "invalid"}) {
        std::vector<fs::path> paths;
        for (const auto& entry : fs::directory_iterator(fs::path(folder) / kind))
            if (entry.path().extension() == ".json") paths.push_back(entry.path());
        std::sort(paths.begin(), paths.end());
        for (const auto& path : paths) {
            std::ifstream in(path);
            json vector = json::parse(in);
            std::string problem = std::string(kind) == "valid" ? check_valid(vector) : check_invalid(vector);
            ++total;
            if (!problem.empty()) ++failed;
            std::cout << (problem.empty() ? "PASS  " : "FAIL  ") << kind << "/" << path.stem().string()
                      << (problem.empty() ? "" : " -- " + problem) << "\n";
        }
    }
    std::cout << (total - failed) << "/" << total << " vectors passed\n";
    return failed || total == 0 ? 1 : 0;
}

}  // namespace qc
