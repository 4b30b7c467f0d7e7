// Reading quickcam.toml with toml++; environment overrides are merged into the table first,
// as text, and every getter takes either the TOML type or text (as pydantic does in Python).
#include "config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "error_text.hpp"
#include "os_error.hpp"

namespace qc {
namespace {

const char* kPrefix = "QUICKCAM_";

struct Reader {
    std::string file;                 // where the TOML came from, for messages
    std::set<std::string> from_env;   // dotted keys set by QUICKCAM_* variables
    std::vector<std::string>* notes;

    // Named where it was written, as config_errors.py does: the first variable (sorted) that set this key or one
    // under it (QUICKCAM_CAMRA__FPS made the unknown section camra), else the file.
    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        auto set = std::find_if(from_env.begin(), from_env.end(),
                                [&](const std::string& k) { return k == key || k.rfind(key + ".", 0) == 0; });
        std::string where = file.empty() ? "the defaults" : file;
        if (set != from_env.end()) {
            where = "environment variable " + std::string(kPrefix);
            for (char c : *set) where += c == '.' ? std::string("__") : std::string(1, char(std::toupper(c)));
        }
        throw ConfigError("config error: " + key + ": " + problem + "; fix it in " + where);
    }

    void note(const std::string& text) const {
        if (std::find(notes->begin(), notes->end(), text) == notes->end()) notes->push_back(text);
    }

    static std::string text_of(const toml::node& node) {
        if (auto s = node.as_string()) return s->get();
        if (auto v = node.as_integer()) return std::to_string(v->get());
        if (auto v = node.as_floating_point()) return std::to_string(v->get());
        if (auto v = node.as_boolean()) return v->get() ? "true" : "false";
        return "a " + std::string(node.is_table() ? "table" : node.is_array() ? "list" : "value");
    }

    // A number from the environment read as the Python detector reads it (its float()): blanks around it taken off,
    // digits grouped by single underscores (1_000), no hexadecimal. std::stod took 0x10 for 16 and refused " 5 "
    // and 1_5, which the Python detector ran with: one environment, one detector running, the other refusing
    // (bench/outside/FINDINGS.md #52, env_odd.py). "" where it cannot be a number.
    static std::string python_float_text(const std::string& text) {
        size_t first = text.find_first_not_of(" \t\n\r\f\v"), last = text.find_last_not_of(" \t\n\r\f\v");
        if (first == std::string::npos) return "";
        std::string t = text.substr(first, last - first + 1), plain;
        for (size_t k = 0; k < t.size(); ++k) {
            char c = t[k];
            if (c == 'x' || c == 'X' || c == 'p' || c == 'P') return "";
            if (c == '_') {
                bool between = k > 0 && k + 1 < t.size() && std::isdigit((unsigned char)t[k - 1]) &&
                               std::isdigit((unsigned char)t[k + 1]);
                if (!between) return "";
                continue;
            }
            plain += c;
        }
        return plain;
    }

    // inf and nan are TOML floats, and a number past 1e15 is a typo: refused as by the Python detector
    // (common/config_models.py, LARGEST_NUMBER), where they traced back or looped in use.
    double number(const toml::node& node, const std::string& key) const {
        double d = 0;
        bool parsed = false;
        if (auto v = node.as_floating_point()) d = v->get(), parsed = true;
        else if (auto v = node.as_integer()) d = double(v->get()), parsed = true;
        else if (auto s = node.as_string()) {
            std::string plain = python_float_text(s->get());
            try {
                size_t used = 0;
                d = plain.empty() ? 0 : std::stod(plain, &used);
                parsed = !plain.empty() && used == plain.size();
            } catch (const std::exception&) {
            }
        }
        if (!parsed) fail(key, "must be a number, got " + text_of(node));
        if (!std::isfinite(d)) fail(key, "must be a finite number, got " + text_of(node));
        if (std::fabs(d) > 1e15) fail(key, "must be at most 1e15, got " + text_of(node));
        return d;
    }

    long integer(const toml::node& node, const std::string& key) const {
        double d = number(node, key);
        if (d != std::floor(d)) fail(key, "must be a whole number, got " + text_of(node));
        return long(d);
    }

    bool boolean(const toml::node& node, const std::string& key) const {
        if (auto v = node.as_boolean()) return v->get();
        if (auto s = node.as_string()) {
            std::string t = s->get();
            std::transform(t.begin(), t.end(), t.begin(), ::tolower);
            if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
            if (t == "false" || t == "0" || t == "no" || t == "off") return false;
        }
        fail(key, "must be true or false, got " + text_of(node));
    }

    std::string string(const toml::node& node, const std::string& key) const {
        if (auto s = node.as_string()) return s->get();
        fail(key, "must be text, got " + text_of(node));
    }
};

// The matching characters of difflib.SequenceMatcher(None, a, b): the longest common block (the first found, as
// Python finds it), then the same on each side of it.
size_t matching(const std::string& a, size_t alo, size_t ahi, const std::string& b, size_t blo, size_t bhi) {
    size_t besti = alo, bestj = blo, best = 0;
    std::vector<size_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
    for (size_t i = alo; i < ahi; ++i) {
        std::fill(current.begin(), current.end(), 0);
        for (size_t j = blo; j < bhi; ++j) {
            if (a[i] != b[j]) continue;
            size_t k = current[j + 1] = previous[j] + 1;
            if (k > best) besti = i + 1 - k, bestj = j + 1 - k, best = k;
        }
        std::swap(previous, current);
    }
    if (best == 0) return 0;
    return best + matching(a, alo, besti, b, blo, bestj) + matching(a, besti + best, ahi, b, bestj + best, bhi);
}

// An unknown key's words, as config_errors.py says them: the nearest known key by difflib.get_close_matches(key,
// known, n=1) (ratio at least 0.6, the highest; of equals, the greatest name), so both detectors suggest the same.
std::string unknown_key(const std::string& key, const std::vector<std::string>& known) {
    double best_ratio = 0;
    std::string best;
    for (const auto& name : known) {
        double ratio = 2.0 * double(matching(name, 0, name.size(), key, 0, key.size())) / double(name.size() + key.size());
        if (ratio >= 0.6 && (ratio > best_ratio || (ratio == best_ratio && name > best))) best_ratio = ratio, best = name;
    }
    return best.empty() ? "unknown key (check the spelling against quickcam.example.toml)"
                        : "unknown key (did you mean " + best + "?)";
}

// One section: key -> how to read it. Keys mapped to nullptr are known but not ours
// (another process's, or another algorithm's); keys in `missing` are known and not implemented.
using Setter = std::function<void(const toml::node&, const std::string& key)>;

void read_section(const Reader& r, const toml::table* table, const std::string& where,
                  const std::map<std::string, Setter>& setters, const std::map<std::string, std::string>& missing = {}) {
    if (!table) return;
    for (const auto& [k, node] : *table) {
        std::string key(k.str());
        std::string dotted = where.empty() ? key : where + "." + key;
        auto it = setters.find(key);
        if (it != setters.end()) {
            if (it->second) it->second(node, dotted);
        } else if (missing.count(key)) {
            r.note(dotted + ": " + missing.at(key) + "; ignored by the native detector");
        } else {  // refused as the Python detector refuses it: a typo (soruce) ran the demo scene, not the camera
            std::vector<std::string> known;
            for (const auto& [name, _] : setters) known.push_back(name);
            for (const auto& [name, _] : missing) known.push_back(name);
            r.fail(dotted, unknown_key(key, known));
        }
    }
}

// A section of another process's, or of the Python detector's only: its keys are checked for typos, not read.
void check_keys(const Reader& r, const toml::table* table, const std::string& where, const std::vector<std::string>& keys) {
    std::map<std::string, Setter> known;
    for (const auto& key : keys) known[key] = nullptr;
    read_section(r, table, where, known);
}

// The table at `node` (a [section]); nullptr where there is none. Anything else there (`camera = 5`,
// `[[camera]]`, `motion = [1, 2]`) is a mistake: it was skipped, and the detector ran on the defaults
// (the demo scene, not the camera) where the Python detector refuses the config.
const toml::table* table_at(const Reader& r, const toml::node* node, const std::string& key) {
    if (!node) return nullptr;
    if (const auto* table = node->as_table()) return table;
    r.fail(key, "must be a table ([" + key + "]), got " + Reader::text_of(*node));
}

void check(const Reader& r, bool ok, const std::string& key, const std::string& problem) {
    if (!ok) r.fail(key, problem);
}

void read_motion(const Reader& r, const toml::table* t, const std::string& where, MotionConfig& m) {
    read_section(r, t, where, {
        {"algorithm", [&](auto& n, auto& k) {
            m.algorithm = r.string(n, k);
            check(r, m.algorithm == "running_average" || m.algorithm == "mog2" || m.algorithm == "knn", k,
                  "must be running_average, mog2 or knn");
            if (m.algorithm != "running_average")
                r.note(k + " = " + m.algorithm + ": only running_average is implemented natively; using it");
        }},
        {"detection_width", [&](auto& n, auto& k) { m.detection_width = int(r.integer(n, k));
            check(r, m.detection_width >= 32 && m.detection_width <= 1920, k, "must be 32-1920"); }},
        {"min_area_fraction", [&](auto& n, auto& k) { m.min_area_fraction = r.number(n, k);
            check(r, m.min_area_fraction > 0 && m.min_area_fraction < 1, k, "must be between 0 and 1"); }},
        {"pixel_threshold", [&](auto& n, auto& k) { m.pixel_threshold = int(r.integer(n, k));
            check(r, m.pixel_threshold >= 1 && m.pixel_threshold <= 255, k, "must be 1-255"); }},
        {"learning_rate", [&](auto& n, auto& k) { m.learning_rate = r.number(n, k);
            check(r, m.learning_rate > 0 && m.learning_rate <= 1, k, "must be in (0, 1]"); }},
        {"trigger_frames", [&](auto& n, auto& k) { m.trigger_frames = int(r.integer(n, k));
            check(r, m.trigger_frames >= 1 && m.trigger_frames <= 100, k, "must be 1-100"); }},
        {"global_change_fraction", [&](auto& n, auto& k) { m.global_change_fraction = r.number(n, k);
            check(r, m.global_change_fraction > 0 && m.global_change_fraction <= 1, k, "must be in (0, 1]"); }},
        {"relearn_s", [&](auto& n, auto& k) { m.relearn_s = r.number(n, k);
            check(r, m.relearn_s >= 0 && m.relearn_s <= 30, k, "must be 0-30"); }},
        {"dark_threshold", [&](auto& n, auto& k) { m.dark_threshold = r.number(n, k);
            check(r, m.dark_threshold >= 0 && m.dark_threshold <= 255, k, "must be 0-255"); }},
        {"dark_interval_s", [&](auto& n, auto& k) { m.dark_interval_s = r.number(n, k);
            check(r, m.dark_interval_s > 0, k, "must be > 0"); }},
        {"dark_pixel_threshold", [&](auto& n, auto& k) { m.dark_pixel_threshold = int(r.integer(n, k));
            check(r, m.dark_pixel_threshold >= 1 && m.dark_pixel_threshold <= 255, k, "must be 1-255"); }},
        {"idle_detect_fps", [&](auto& n, auto& k) { m.idle_detect_fps = r.number(n, k);
            check(r, m.idle_detect_fps > 0 && m.idle_detect_fps <= 120, k, "must be in (0, 120]"); }},
        {"person_check", [&](auto& n, auto& k) {
            if (r.boolean(n, k)) r.note(k + " = true: the people check is not implemented natively; every motion counts");
        }},
        {"person_budget_ms_per_s", [&](auto& n, auto& k) { double v = r.number(n, k);
            check(r, v > 0 && v <= 1000, k, "must be in (0, 1000]"); }},  // used only by the people check
        {"lighting_min_blob_fraction", [&](auto& n, auto& k) { double v = r.number(n, k);  // unused, as in Python
            check(r, v > 0 && v <= 1, k, "must be in (0, 1]"); }},                     // (every blob is checked)
        {"mog2_var_threshold", nullptr}, {"knn_dist2_threshold", nullptr},
    });
}

void read_recording(const Reader& r, const toml::table* t, const std::string& where, RecordingConfig& c) {
    read_section(r, t, where, {
        {"outbox_dir", [&](auto& n, auto& k) { c.outbox_dir = r.string(n, k); }},
        {"pre_roll_s", [&](auto& n, auto& k) { c.pre_roll_s = r.number(n, k);
            check(r, c.pre_roll_s >= 0 && c.pre_roll_s <= 30, k, "must be 0-30"); }},
        {"post_roll_s", [&](auto& n, auto& k) { c.post_roll_s = r.number(n, k);
            check(r, c.post_roll_s >= 0 && c.post_roll_s <= 120, k, "must be 0-120"); }},
        {"min_event_s", [&](auto& n, auto& k) { c.min_event_s = r.number(n, k);
            check(r, c.min_event_s >= 0 && c.min_event_s <= 600, k, "must be 0-600"); }},
        {"segment_s", [&](auto& n, auto& k) { c.segment_s = r.number(n, k);
            check(r, c.segment_s > 0.2 && c.segment_s <= 60, k, "must be in (0.2, 60]"); }},
        {"max_event_s", [&](auto& n, auto& k) { c.max_event_s = r.number(n, k);
            check(r, c.max_event_s > 1, k, "must be > 1"); }},
        {"buffer_max_s", [&](auto& n, auto& k) { c.buffer_max_s = r.number(n, k);
            check(r, c.buffer_max_s >= 1 && c.buffer_max_s <= 3600, k, "must be 1-3600"); }},
        {"encoder", [&](auto& n, auto& k) { c.encoder = r.string(n, k);
            check(r, c.encoder == "h264" || c.encoder == "mp4v", k, "must be h264 or mp4v"); }},
        {"snapshot_quality", [&](auto& n, auto& k) { c.snapshot_quality = int(r.integer(n, k));
            check(r, c.snapshot_quality >= 10 && c.snapshot_quality <= 100, k, "must be 10-100"); }},
        {"keep_local_copy", [&](auto& n, auto& k) { c.keep_local_copy = r.boolean(n, k); }},
        {"over_budget_fps", [&](auto& n, auto& k) { c.over_budget_fps = r.number(n, k);  // a full disk's reduced rung
            check(r, c.over_budget_fps > 0 && c.over_budget_fps <= 120, k, "must be in (0, 120]"); }},
        {"outbox_budget_mb", [&](auto& n, auto& k) { double v = r.number(n, k);  // refused as Python refuses it
            check(r, v >= 0, k, "must be >= 0 (0: no budget)");
            r.note(k + ": the disk budget policy (smaller segments while over budget) is not implemented; the "
                   "outbox still never deletes footage; ignored by the native detector"); }},
    });
}

const std::map<std::string, std::string> kNoFaces = {
    {"enabled", "face detection is not implemented"}, {"detector", "face detection is not implemented"},
    {"cascade", "face detection is not implemented"}, {"yunet_model", "face detection is not implemented"},
    {"budget_ms_per_s", "face detection is not implemented"}, {"min_size_px", "face detection is not implemented"}};

bool valid_camera_id(const std::string& id) {
    // "." and ".." pass the characters but the uploader refuses them (common/protocol_schema.py's camera_id_problem):
    // the link failed on every hello, the footage stayed in the outbox for good.
    if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
    return std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-'; });
}

// [camera.zones] as common/config.py's ZonesConfig checks it; a relative mask names a file beside
// the config file (config.py's _anchor_zone_masks), wherever the detector was started.
ZonesConfig::Polygon read_polygon(const Reader& r, const toml::node& node, const std::string& key) {
    ZonesConfig::Polygon polygon;
    const toml::array* points = node.as_array();
    if (!points) r.fail(key, "a polygon is a list of [x, y] points, got " + Reader::text_of(node));
    for (const auto& point : *points) {
        const toml::array* xy = point.as_array();
        if (!xy || xy->size() != 2) r.fail(key, "a polygon's points are [x, y] pairs, got " + Reader::text_of(point));
        double x = r.number(*xy->get(0), key), y = r.number(*xy->get(1), key);
        check(r, 0.0 <= x && x <= 1.0 && 0.0 <= y && y <= 1.0, key,
              "polygon points are fractions of the frame, each between 0 and 1");
        polygon.emplace_back(x, y);
    }
    check(r, polygon.size() >= 3, key, "a polygon needs at least 3 points");
    return polygon;
}

void read_zones(const Reader& r, const toml::node& node, const std::string& where, ZonesConfig& z) {
    const toml::table* table = node.as_table();
    if (!table) r.fail(where, "must be a table of include, exclude and mask, got " + Reader::text_of(node));
    auto polygons = [&](const toml::node& n, const std::string& k, std::vector<ZonesConfig::Polygon>& out) {
        const toml::array* list = n.as_array();
        if (!list) r.fail(k, "must be a list of polygons, got " + Reader::text_of(n));
        out.clear();
        for (const auto& polygon : *list) out.push_back(read_polygon(r, polygon, k));
    };
    read_section(r, table, where, {
        {"include", [&](auto& n, auto& k) { polygons(n, k, z.include); }},
        {"exclude", [&](auto& n, auto& k) { polygons(n, k, z.exclude); }},
        {"mask", [&](auto& n, auto& k) {
            z.mask = r.string(n, k);
            if (!z.mask.empty() && z.mask.front() != '/' && !r.file.empty()) {
                std::error_code error;
                auto file = std::filesystem::weakly_canonical(std::filesystem::absolute(r.file), error);
                z.mask = (file.parent_path() / z.mask).string();
            }
        }},
    });
}

CameraConfig read_camera(const Reader& r, const toml::table* t, const std::string& where, const toml::table& root) {
    CameraConfig c;
    // Keys that name the camera to watch, written without source: the demo scene (made-up events) ran instead of it.
    // Refused as config_models.py's CameraConfig refuses it.
    if (t && !t->contains("source")) {
        std::string named;
        for (const char* key : {"path", "index", "detect_path"})
            if (t->contains(key)) named += (named.empty() ? "" : " and ") + std::string(key);
        if (!named.empty())
            r.fail(where + ".source", "is not set, but " + named + " is: the demo scene (made-up events) would run "
                   "instead of the camera; set source = \"stream\", \"file\" or \"camera\"");
    }
    read_motion(r, table_at(r, root.get("motion"), "motion"), "motion", c.motion);
    read_recording(r, table_at(r, root.get("recording"), "recording"), "recording", c.recording);
    read_section(r, table_at(r, root.get("faces"), "faces"), "faces", {}, kNoFaces);
    read_section(r, t, where, {
        {"id", [&](auto& n, auto& k) { c.id = r.string(n, k);
            check(r, valid_camera_id(c.id), k,
                  "must be 1-64 of A-Z a-z 0-9 _ . - and not . or .. (the uploader refuses those)"); }},
        {"source", [&](auto& n, auto& k) { c.source = r.string(n, k);
            check(r, c.source == "demo" || c.source == "camera" || c.source == "file" || c.source == "stream", k,
                  "must be demo, camera, file or stream"); }},
        {"index", [&](auto& n, auto& k) { c.index = int(r.integer(n, k)); check(r, c.index >= 0, k, "must be >= 0"); }},
        {"path", [&](auto& n, auto& k) { c.path = r.string(n, k); }},
        {"width", [&](auto& n, auto& k) { c.width = int(r.integer(n, k));
            check(r, c.width > 0 && c.width <= 7680, k, "must be 1-7680"); }},
        {"height", [&](auto& n, auto& k) { c.height = int(r.integer(n, k));
            check(r, c.height > 0 && c.height <= 4320, k, "must be 1-4320"); }},
        {"fps", [&](auto& n, auto& k) { c.fps = r.number(n, k); check(r, c.fps >= 0.1 && c.fps <= 120, k, "must be in [0.1, 120]"); }},
        {"loop", [&](auto& n, auto& k) { c.loop = r.boolean(n, k); }},
        {"realtime", [&](auto& n, auto& k) { c.realtime = r.boolean(n, k); }},
        {"demo_start_s", [&](auto& n, auto& k) { c.demo_start_s = r.number(n, k);
            check(r, c.demo_start_s >= 0 && c.demo_start_s < 30, k, "must be at least 0 and under 30"); }},
        {"demo_gap_s", [&](auto& n, auto& k) { c.demo_gap_s = r.number(n, k);
            check(r, c.demo_gap_s >= 1 && c.demo_gap_s <= 8, k, "must be 1-8"); }},
        {"mjpg", [&](auto& n, auto& k) { c.mjpg = r.boolean(n, k); }},
        {"reopen_max_s", [&](auto& n, auto& k) { c.reopen_max_s = r.number(n, k);
            check(r, c.reopen_max_s > 0 && c.reopen_max_s <= 3600, k, "must be in (0, 3600]"); }},
        {"stream_timeout_s", [&](auto& n, auto& k) { c.stream_timeout_s = int(r.integer(n, k));
            check(r, c.stream_timeout_s >= 1 && c.stream_timeout_s <= 300, k, "must be 1-300"); }},
        {"damaged_clear_s", [&](auto& n, auto& k) { c.damaged_clear_s = int(r.integer(n, k));
            check(r, c.damaged_clear_s >= 1 && c.damaged_clear_s <= 60, k, "must be 1-60"); }},
        {"motion", [&](auto& n, auto& k) { read_motion(r, table_at(r, &n, k), k, c.motion); }},
        {"recording", [&](auto& n, auto& k) { read_recording(r, table_at(r, &n, k), k, c.recording); }},
        {"faces", [&](auto& n, auto& k) { read_section(r, table_at(r, &n, k), k, {}, kNoFaces); }},
        {"start", [&](auto&, auto& k) {
            r.note(k + ": a file's start time is not implemented; its first frame is at its creation time (else "
                       "its mtime minus its length)");
        }},
        {"input_format", [&](auto& n, auto& k) { c.input_format = r.string(n, k);
            check(r, c.input_format == "auto" || c.input_format == "h264" || c.input_format == "mjpeg" ||
                  c.input_format == "raw", k, "must be auto, h264, mjpeg or raw");
        }},
        {"record", [&](auto& n, auto& k) { c.record = r.string(n, k);
            check(r, c.record == "auto" || c.record == "passthrough" || c.record == "reencode", k,
                  "must be auto, passthrough or reencode");
        }},
        {"detect_path", [&](auto& n, auto& k) { c.detect_path = r.string(n, k); }},
        {"max_gop_s", [&](auto& n, auto& k) { c.max_gop_s = r.number(n, k);
            check(r, c.max_gop_s > 0 && c.max_gop_s <= 60, k, "must be over 0 and at most 60"); }},
        {"fast_decode", [&](auto& n, auto& k) { c.fast_decode = r.boolean(n, k); }},
        {"idle_keyframes_only", [&](auto& n, auto& k) { c.idle_keyframes_only = r.boolean(n, k); }},
        {"event_keyframes_only", [&](auto& n, auto& k) { c.event_keyframes_only = r.boolean(n, k); }},
        {"zones", [&](auto& n, auto& k) { read_zones(r, n, k, c.zones); }},
    });
    if (c.detect_path.find_first_not_of(" \t\r\n") != std::string::npos && c.source != "file" && c.source != "stream")
        r.fail(where + ".detect_path", "is set, but source = \"" + c.source + "\" has no substream: remove detect_path, or "
               "use source = \"stream\" (or \"file\") with path = the main stream");
    if ((c.source == "file" || c.source == "stream") && c.path.empty())
        r.fail(where + ".path", "must name the file or stream URL for source = " + c.source);
    return c;
}

// QUICKCAM_X with no "__" that names no top-level key (env_file or a section): not an override (the project's
// own tools read QUICKCAM_SOAK, QUICKCAM_NATIVE_BUILD): ignored, said in `notes` (common/config.py's
// stray_env_variables, the same words). Before, it stopped the detector with "unknown key".
bool stray_env(const std::string& name) {
    static const std::set<std::string> kTopLevel = {"env_file", "camera", "cameras", "motion", "recording", "faces",
                                                     "link", "uploader", "logging", "alerts", "mqtt", "console",
                                                     "low_power", "storage"};
    std::string rest = name.substr(std::strlen(kPrefix)), lower;
    if (rest.empty() || rest.find("__") != std::string::npos) return false;
    for (char c : rest) lower += char(std::tolower(static_cast<unsigned char>(c)));
    return !kTopLevel.count(lower);
}

// QUICKCAM_A__B__C=value -> table[a][b][c] = "value" (text; the getters convert).
std::set<std::string> apply_env(toml::table& root, const std::map<std::string, std::string>& environ,
                                std::vector<std::string>& notes) {
    std::set<std::string> dotted;
    for (const auto& [name, value] : environ) {
        if (name.rfind(kPrefix, 0) != 0) continue;
        if (stray_env(name)) {
            notes.push_back("environment variable " + name + " ignored: not a config override (those are "
                            "QUICKCAM_<SECTION>__<KEY>, e.g. QUICKCAM_CAMERA__FPS)");
            continue;
        }
        std::vector<std::string> parts;
        std::string rest = name.substr(std::strlen(kPrefix)), part;
        for (size_t k = 0; k <= rest.size(); ++k) {
            if (k == rest.size() || rest.compare(k, 2, "__") == 0) {
                if (!part.empty()) parts.push_back(part);
                part.clear();
                if (k < rest.size()) ++k;
            } else {
                part += char(std::tolower(static_cast<unsigned char>(rest[k])));
            }
        }
        if (parts.empty()) continue;
        if (valid_utf8(value) != value) {  // a path's bytes from an old Latin-1 system (config.py not_utf8)
            std::string key;
            for (const auto& p : parts) key += (key.empty() ? "" : ".") + p;
            throw ConfigError("config error: " + key + ": holds bytes that are not UTF-8 (" +
                              middle_cut(valid_utf8(value), 120) + "); use a name in UTF-8 (rename it, or link it "
                              "with ln -s under one); fix it in environment variable " + name);
        }
        toml::table* node = &root;
        for (size_t k = 0; k + 1 < parts.size(); ++k) {
            auto* child = (*node)[parts[k]].as_table();
            if (!child) {
                node->insert_or_assign(parts[k], toml::table{});
                child = (*node)[parts[k]].as_table();
            }
            node = child;
        }
        node->insert_or_assign(parts.back(), value);
        std::string key;
        for (const auto& p : parts) key += (key.empty() ? "" : ".") + p;
        dotted.insert(key);
    }
    return dotted;
}

// A config file that is there but cannot be read: the OS's words and the fix (common/config.py unreadable_config).
std::string unreadable_config(const std::string& path, int code) {
    std::string fix = code == EISDIR   ? "name the config file, not its folder (--config " + path + "/quickcam.toml)"
                      : code == EACCES || code == EPERM ? "let the user this runs as read it (chmod, chown)"
                                                        : "check the disk";
    return "config file " + path + " cannot be read: " + std::strerror(code) + "; " + fix;
}

}  // namespace

Config load_config(const std::string& path, const std::map<std::string, std::string>& environ) {
    toml::table root;
    if (!path.empty()) {
        std::string text;
        try {
            text = read_file(path);
        } catch (const OsError& e) {  // a folder was taken for an empty file (the demo scene ran), EACCES for missing
            if (e.code == ENOENT) throw ConfigError("config file " + path + " not found; copy quickcam.example.toml");
            throw ConfigError(unreadable_config(path, e.code));
        }
        try {
            root = toml::parse(text, path);
        } catch (const toml::parse_error& e) {
            std::ostringstream where;
            where << e.source().begin;
            throw ConfigError("config file " + path + " is not valid TOML: " + std::string(e.description()) + " at " + where.str());
        }
    }
    bool empty = !path.empty() && root.empty();
    Config config;
    Reader r{path, apply_env(root, environ, config.notes), &config.notes};
    // A file with no setting, nor any from the environment beyond the image's env_file and log file: a save cut
    // short, or > for >>; the demo scene ran instead of the camera (common/config.py empty_config, the same line).
    if (empty && std::none_of(r.from_env.begin(), r.from_env.end(), [](const std::string& k) {
            return k != "env_file" && k.rfind("logging.", 0) != 0; }))
        throw ConfigError("config file " + path + " holds no setting (a save cut short, or > for >>?): the demo scene "
                          "would be watched instead of the camera; put its settings back (copy quickcam.example.toml)");

    read_recording(r, table_at(r, root.get("recording"), "recording"), "recording", config.recording);
    read_section(r, table_at(r, root.get("link"), "link"), "link", {
        {"endpoint", [&](auto& n, auto& k) { config.link.endpoint = r.string(n, k);
            const auto& e = config.link.endpoint;
            check(r, e.rfind("tcp://", 0) == 0 || e.rfind("ipc://", 0) == 0, k, "must start with tcp:// or ipc://"); }},
        {"ack_timeout_s", [&](auto& n, auto& k) { config.link.ack_timeout_s = r.number(n, k);
            check(r, config.link.ack_timeout_s > 0, k, "must be > 0"); }},
        {"heartbeat_s", [&](auto& n, auto& k) { config.link.heartbeat_s = r.number(n, k);
            check(r, config.link.heartbeat_s > 0, k, "must be > 0"); }},
        {"reconnect_max_s", [&](auto& n, auto& k) { config.link.reconnect_max_s = r.number(n, k);
            check(r, config.link.reconnect_max_s >= 0.1 && config.link.reconnect_max_s <= 60, k,
                  "must be between 0.1 and 60"); }},
        {"handshake_timeout_s", [&](auto& n, auto& k) { config.link.handshake_timeout_s = r.number(n, k);
            check(r, config.link.handshake_timeout_s >= 6 && config.link.handshake_timeout_s <= 600, k,
                  "must be between 6 and 600"); }},
        {"unsent_after_s", [&](auto& n, auto& k) { config.link.unsent_after_s = r.number(n, k);
            check(r, config.link.unsent_after_s > 0, k, "must be > 0"); }},
        {"curve_secret_key_file", [&](auto& n, auto& k) { config.link.curve_secret_key_file = r.string(n, k); }},
        {"curve_server_public_key_file", [&](auto& n, auto& k) { config.link.curve_server_public_key_file = r.string(n, k); }},
        {"allow_plain_tcp", [&](auto& n, auto& k) { config.link.allow_plain_tcp = r.boolean(n, k); }},
        {"curve_allow_dir", nullptr},  // the uploader's key
    });
    read_section(r, table_at(r, root.get("logging"), "logging"), "logging", {
        {"level", [&](auto& n, auto& k) { config.log_level = r.string(n, k);
            check(r, config.log_level == "DEBUG" || config.log_level == "INFO" || config.log_level == "WARNING" ||
                     config.log_level == "ERROR", k, "must be DEBUG, INFO, WARNING or ERROR"); }},
        {"file", nullptr},
    });
    // The other sections' keys, as common/config_models.py has them (tests/test_native_config.py compares them):
    // checked for typos as the Python detector checks them, their values are not ours.
    check_keys(r, table_at(r, root.get("uploader"), "uploader"), "uploader",
               {"spool_dir", "state_dir", "remote_folder", "destinations", "max_payload_mb", "credit_messages",
                "credit_mb", "spool_max_mb", "retry_base_s", "retry_max_s", "log_upload_interval_s", "stop_upload_s",
                "refusing_after_s"});
    const toml::table* alerts = table_at(r, root.get("alerts"), "alerts");
    check_keys(r, alerts, "alerts",
               {"targets", "cooldown_s", "quiet_hours", "quiet_alerts", "silent_after_s", "storage_failing_after_s",
                "backlog_after_s", "retry_base_s", "retry_max_s", "give_up_after_s", "timeout_s"});
    if (const toml::array* targets = alerts ? alerts->get_as<toml::array>("targets") : nullptr)
        for (size_t k = 0; k < targets->size(); ++k)
            check_keys(r, targets->get(k)->as_table(), "alerts.targets." + std::to_string(k),
                       {"name", "url_env", "alerts", "attach_snapshot"});
    check_keys(r, table_at(r, root.get("mqtt"), "mqtt"), "mqtt",
               {"host", "port", "tls", "topic_prefix", "discovery_prefix", "publish_snapshot", "keepalive_s"});
    check_keys(r, table_at(r, root.get("console"), "console"), "console",
               {"listen", "password_file", "tls_cert", "tls_key", "allow_plain_http", "session_s", "max_failed_logins",
                "failed_login_window_s", "view_width", "view_fps", "view_quality", "trusted_proxies"});
    check_keys(r, table_at(r, root.get("low_power"), "low_power"), "low_power",
               {"enabled", "steps_fps", "check_s", "low_battery_percent", "cpu_budget_percent"});
    static const std::vector<std::string> kTop = {"env_file", "camera", "cameras", "motion", "recording", "faces",
                                                  "link", "uploader", "logging", "alerts", "mqtt", "console",
                                                  "low_power", "storage"};
    for (const auto& [k, node] : root) {
        std::string key(k.str());
        if (key == "console" || key == "low_power")  // the Python detector's features
            r.note(key + ": the " + (key == "console" ? "web console" : "low-power governor") +
                   " is not implemented; ignored by the native detector");
        else if (std::find(kTop.begin(), kTop.end(), key) == kTop.end())
            r.fail(key, unknown_key(key, kTop));
    }

    const toml::node* cameras = root.get("cameras");
    if (cameras && !cameras->is_array())
        r.fail("cameras", "must be a list of [[cameras]] tables, got " + Reader::text_of(*cameras));
    if (auto* list = root["cameras"].as_array(); list && !list->empty()) {
        for (size_t k = 0; k < list->size(); ++k) {
            std::string where = "cameras." + std::to_string(k);
            config.cameras.push_back(read_camera(r, table_at(r, list->get(k), where), where, root));
        }
    }
    // [camera] is checked as the Python detector checks it, also when [[cameras]] replace it.
    CameraConfig single = read_camera(r, table_at(r, root.get("camera"), "camera"), "camera", root);
    if (config.cameras.empty()) config.cameras.push_back(single);
    std::set<std::string> ids;
    for (const auto& cam : config.cameras)
        if (!ids.insert(cam.id).second) r.fail("cameras", "camera ids must be unique; repeated: " + cam.id);
    if (config.cameras.size() > 64)  // taken, the uploader refused every hello: nothing left the outbox
        r.fail("cameras", "at most 64 per detector, " + std::to_string(config.cameras.size()) +
                              " given (a hello lists 1 to 64 camera ids); run a second detector for the rest");
    return config;
}

namespace {
// The quoted value of `name = "..."` in a ZeroMQ certificate file (ZPL text), or "".
std::string cert_value(const std::string& text, const std::string& name) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        auto at = line.find(name);
        if (at == std::string::npos || line.find_first_not_of(" \t") != at) continue;
        auto open = line.find('"', at), close = line.rfind('"');
        if (open != std::string::npos && close > open) return line.substr(open + 1, close - open - 1);
    }
    return "";
}

// Read with the OS calls (os_error.hpp): std::ifstream took a read error (EIO) for the end of the file, and a key
// file the disk would not read was said as "holds no secret-key" or "not a 40-character z85 key". Now one line with
// the error's own words and the fix, as common/curve.py's unreadable_key_file.
std::string key_from(const std::string& path, const std::string& name, const std::string& setting) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const OsError& e) {
        std::string fix = e.code == ENOENT ? "check the path set in " + setting : "check the disk and the file's permissions";
        throw ConfigError("CURVE key file " + path + " cannot be read: " + std::strerror(e.code) + "; " + fix);
    }
    std::string key = cert_value(text, name);
    if (key.size() != 40) {
        if (key.empty() && name == "secret-key")
            throw ConfigError(path + " holds no secret-key; pass the NAME.key_secret file, not NAME.key");
        throw ConfigError("CURVE key file " + path + ": " + name + " is not a 40-character z85 key");
    }
    return key;
}
}  // namespace

CurveKeys load_curve_keys(const LinkConfig& link) {
    if (link.curve_secret_key_file.empty()) return {};
    if (link.curve_server_public_key_file.empty())
        throw ConfigError("link.curve_server_public_key_file must name the uploader's public key (NAME.key) when "
                          "link.curve_secret_key_file is set");
    struct stat st{};
    if (::stat(link.curve_secret_key_file.c_str(), &st) == 0 && (st.st_mode & 077))
        throw ConfigError(link.curve_secret_key_file + " is readable by other users; chmod 600 " + link.curve_secret_key_file);
    const std::string secret = "link.curve_secret_key_file", server = "link.curve_server_public_key_file";
    return {key_from(link.curve_secret_key_file, "public-key", secret),
            key_from(link.curve_secret_key_file, "secret-key", secret),
            key_from(link.curve_server_public_key_file, "public-key", server)};
}

}  // namespace qc
