// The configuration subset the native detector reads from quickcam.toml (docs/native.md):
// [camera] / [[cameras]], [motion], [recording], [link], [logging].level, with the same
// QUICKCAM_<SECTION>__<KEY> environment overrides and the same defaults as common/config.py.
// Keys it does not implement are reported once at start-up (a warning), never silently ignored;
// the uploader's own sections ([uploader], [storage], env_file, [logging].file) are not ours.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace qc {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct MotionConfig {
    std::string algorithm = "running_average";
    int detection_width = 160;
    double min_area_fraction = 0.002;
    int pixel_threshold = 15;
    double learning_rate = 0.05;
    int trigger_frames = 2;
    double global_change_fraction = 0.6;
    double relearn_s = 1.0;
    double dark_threshold = 10.0;
    double dark_interval_s = 0.0;   // 0: none (opt-in), the dark picture is checked every frame
    int dark_pixel_threshold = 0;  // 0: the same as pixel_threshold
    double idle_detect_fps = 0.0;  // 0: none (opt-in); else while nothing moves, look this often (camera.cpp)
};

struct RecordingConfig {
    std::string outbox_dir = "outbox";
    double pre_roll_s = 2.0;
    double post_roll_s = 3.0;
    double min_event_s = 0.0;
    double segment_s = 2.0;
    double max_event_s = 600.0;
    double buffer_max_s = 20.0;
    std::string encoder = "h264";
    int snapshot_quality = 85;
    bool keep_local_copy = false;
    double over_budget_fps = 1.0;  // the reduced rung of a full disk (disk.hpp); no budget policy yet
};

// [camera.zones] (common/config.py's ZonesConfig), fractions of the frame; zones.cpp makes the mask.
struct ZonesConfig {
    using Polygon = std::vector<std::pair<double, double>>;
    std::vector<Polygon> include, exclude;  // no include: the whole frame, then exclude cut out
    std::string mask;                        // an image, white = watched; relative: beside the config file
    bool empty() const { return include.empty() && exclude.empty() && mask.empty(); }
};

struct CameraConfig {
    std::string id = "cam0";
    std::string source = "demo";  // demo | camera | file | stream
    int index = 0;
    std::string path;
    std::string detect_path;  // a low-resolution substream decoded for detection; path is then only demuxed (recorded_stream.hpp)
    int width = 640;
    int height = 480;
    double fps = 15.0;
    bool loop = false;
    bool realtime = true;
    double demo_start_s = 0.0;  // where the demo's 30 s script starts: its first walker comes sooner
    double demo_gap_s = 8.0;    // quiet between the demo's walk and its walk back: less shortens the script as much
    bool mjpg = true;
    std::string input_format = "auto";  // USB camera: h264 read by libavformat (passed through); auto, mjpeg, raw by OpenCV
    // Not a [camera] key: a USB H.264 camera's demuxer, v4l2, or (the tests' seam, QC_NATIVE_USB_DEMUXER=h264)
    // FFmpeg's h264 demuxer reading `path`, a FIFO, as the Python tests' V4l2Source(demuxer="h264") (sources.cpp)
    std::string demuxer;
    double reopen_max_s = 30.0;
    int stream_timeout_s = 10;  // a stream's open, and its reads without a video packet, fail after this long
    std::string record = "auto";  // auto | passthrough | reencode (remux.hpp; av_source.cpp decides at the first open)
    double max_gop_s = 10.0;  // keyframes further apart: re-encoded (pre-roll and segments wait for keyframes)
    int damaged_clear_s = 10;  // a damaged stream's streak ends at a clean keyframe this long after its last damaged packet
    // Decoding less for detection (keyframe_gate.hpp; docs/benchmarks.md 12d): live passed-through cameras only
    bool fast_decode = false;           // no deblocking in detection's decoder; snapshots decoded in full
    bool idle_keyframes_only = false;   // keyframes only while nothing moves
    bool event_keyframes_only = false;  // keyframes only while an event's keyframes show motion
    MotionConfig motion;
    RecordingConfig recording;
    ZonesConfig zones;
};

struct LinkConfig {
    std::string endpoint = "ipc://link/uploader.sock";  // a Unix socket in a private folder (docs/protocol.md 10.1)
    double ack_timeout_s = 10.0;
    double heartbeat_s = 2.0;
    double reconnect_max_s = 5.0;              // ZeroMQ's longest reconnect interval
    double handshake_timeout_s = 30.0;         // ZMQ_HANDSHAKE_IVL; no connection this long is said too (link.cpp)
    double unsent_after_s = 120.0;             // footage waiting this long, link down: health check red
    bool allow_plain_tcp = false;              // tcp:// without CURVE: refused unless this is set
    std::string curve_secret_key_file;         // this detector's NAME.key_secret; set = CURVE on
    std::string curve_server_public_key_file;  // the uploader's NAME.key (pinned)
};

struct Config {
    std::vector<CameraConfig> cameras;  // [[cameras]], or the single [camera]
    RecordingConfig recording;          // top level: the outbox folder is shared
    LinkConfig link;
    std::string log_level = "INFO";
    std::vector<std::string> notes;  // keys read but not implemented, or unknown: logged once
};

// Reads `path` (may be empty: defaults), applies QUICKCAM_* overrides from `environ`.
// Throws ConfigError with a one-line message naming the key and the fix.
Config load_config(const std::string& path, const std::map<std::string, std::string>& environ);

// CURVE keys (z85, 40 characters) from ZeroMQ certificate files; ConfigError names the file.
struct CurveKeys {
    std::string public_key, secret_key, server_key;
};
CurveKeys load_curve_keys(const LinkConfig& link);

}  // namespace qc
