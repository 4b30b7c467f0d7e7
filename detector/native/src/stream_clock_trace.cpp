#include "stream_clock_trace.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "stream_clock.hpp"

using nlohmann::json;

namespace qc {
namespace {
std::optional<int64_t> maybe(const json& call, const char* key) {
    if (!call.contains(key) || call.at(key).is_null()) return std::nullopt;
    return call.at(key).get<int64_t>();
}
}  // namespace

int run_stream_clock_trace(std::istream& in, std::ostream& out) {
    StreamClock clock("cam0");
    std::optional<OpenBurst> burst;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        try {
            json call = json::parse(line), answer = json::object();
            std::string op = call.at("op").get<std::string>();
            if (op == "restart") {
                clock.restart(maybe(call, "anchor_ns"), call.value("latest_ns", int64_t(0)));
            } else if (op == "wall_ns") {
                answer["wall_ns"] = clock.wall_ns(call.at("stream_ns").get<int64_t>(), call.at("latest_ns").get<int64_t>(),
                                                  call.at("frame_ns").get<int64_t>(), call.value("arrived", false),
                                                  maybe(call, "now_ns"), call.value("held", false));
            } else if (op == "opened_anchor") {
                std::vector<std::pair<int64_t, int64_t>> handed;
                for (const auto& pair : call.at("handed")) handed.emplace_back(pair.at(0).get<int64_t>(), pair.at(1).get<int64_t>());
                auto anchor = opened_anchor(handed, call.at("opened_ns").get<int64_t>());
                answer["anchor_ns"] = anchor ? json(*anchor) : json(nullptr);
            } else if (op == "burst") {
                burst.emplace(call.at("opened_ns").get<int64_t>(), call.at("now_ns").get<int64_t>(),
                              call.at("frame_ns").get<int64_t>());
            } else if (op == "over") {
                if (!burst) throw std::runtime_error("\"over\" before any \"burst\"");
                answer["over"] = burst->over(maybe(call, "stream_ns"), call.at("handed_ns").get<int64_t>());
            } else {
                throw std::runtime_error("unknown op " + op);
            }
            out << answer.dump() << "\n";
        } catch (const std::exception& e) {
            std::cerr << "quickcam-native-detector: --stream-clock: line " << number << ": " << e.what() << "\n";
            return 2;
        }
    }
    out.flush();
    return 0;
}

}  // namespace qc
