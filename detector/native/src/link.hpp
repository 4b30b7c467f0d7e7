// The detector's side of the wire (docs/protocol.md sections 7-10), one thread owning one
// DEALER socket: hello until credit; never more in flight than the window; an item leaves the
// outbox only on its ack; re-sent byte for byte after the ack timeout (also while paused: it
// is still in flight); status every heartbeat; three silent heartbeats = link down, everything
// in flight re-sent after hello; CURVE with the uploader's pinned public key, a refused key
// reported and retried with a new socket and backoff.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "outbox.hpp"
#include "os_error.hpp"
#include "status_header.hpp"
#include "value.hpp"

namespace qc {

class Wakeup;  // link.cpp: an eventfd the link's poll waits on beside its sockets

struct LinkStatus {
    bool connected = false;
    int64_t acked = 0, refused = 0, retransmits = 0, in_flight = 0;
    std::string last_error;        // the newest thing that went wrong
    double last_error_at = 0;      // when (epoch seconds)
    double error_cleared_at = 0;   // when the link was healthy again after it (0: it still stands)
    int64_t bad_status = 0;        // status headers sent with camera figures fixed (status_header.hpp)
    int64_t malformed = 0;         // messages from the uploader that did not decode, ignored
    int64_t unreadable = 0;        // outbox items the disk refused to read (once a streak), skipped for now
    int64_t hello_refused = 0;     // hellos the uploader refused (or the protocol's own check would have)
    int64_t rejected = 0;          // nacks of messages not in the outbox (a status; one whose id it could not read)
    int64_t too_large = 0;         // outbox items held: over the uploader's announced size limit (once each)
    int64_t too_large_now = 0;     // of them, those still held (link_state.py's too_large_now)
};

// An outbox item whose last read failed (EIO, EACCES): when to try it again (monotonic), the pause after that.
struct Unreadable {
    double retry_at = 0, backoff_s = 0;
    int64_t failures = 1;
};

class UploaderLink {
public:
    UploaderLink(LinkConfig config, CurveKeys curve, Outbox& outbox, std::vector<std::string> cameras,
                 std::function<Value()> camera_status, std::string keep_copy_in);
    ~UploaderLink();
    void start();
    // Stop, first waiting up to drain_s for the outbox to empty while the uploader answers
    // (at most 5 s of it while not connected: ZeroMQ may be about to reconnect), then up to join_s for
    // the thread. False when the thread did not end by then: it is left behind (detached), and the
    // process must end without destroying this link (main.cpp).
    bool stop(double drain_s, double join_s);
    LinkStatus status();
    const LinkConfig& config() const { return config_; }

private:
    struct InFlight { int64_t size; double sent_at; };

    void run();    // the thread: serve() until stopped, again after an unexpected error (with backoff)
    void serve();  // one socket's life: open, loop, close
    void loop();
    void pause(double seconds);  // a backoff that stop() cuts short
    void open_socket();
    void close_socket();
    bool send(const std::vector<std::string>& frames);
    void heartbeat(double now);
    void notice_pause(double gap_s);  // this process was stopped: its own silence, not the uploader's
    Value status_header(bool stopping);
    void send_hello();
    void hello_refused(const std::string& reason);
    double next_interval();
    bool send_pending(double now);  // false: ZeroMQ would not take a message (tried again shortly)
    int idle_ms(double now, double next_heartbeat);  // how long the loop may sleep
    void handle(const std::vector<std::string>& frames, double now);
    void on_nack(const Value& header, double now);
    void on_monitor_event(uint16_t event, int32_t value);
    std::string handshake_failure(double after_s) const;  // what a failed handshake says: a key, or no answer
    void notice_no_answer(double now);  // no connection opens: said once an outage
    void refuse_locally(const std::string& id, const std::string& why);
    void skip_unreadable(const std::string& id, const OsError& e, double now);  // delivery.py's _unreadable
    bool held_too_large(const std::string& id, int64_t size);  // delivery.py's _held_too_large
    void fail(const std::string& error);  // link_state.py's fail: it stands until healthy()
    void healthy();                       // the uploader grants credit: the last error is past, with its time

    LinkConfig config_;
    CurveKeys curve_;
    Outbox& outbox_;
    std::vector<std::string> cameras_;
    StatusHeaders status_headers_;  // used under mutex_
    std::string keep_copy_in_;

    void* ctx_ = nullptr;
    void* sock_ = nullptr;
    void* monitor_ = nullptr;
    int monitor_serial_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> ended_{false};  // the thread's run() returned: stop() may join it
    std::shared_ptr<Wakeup> wakeup_;  // a new outbox item or stop() cuts the loop's sleep short

    std::mutex mutex_;  // guards the fields below (status() reads them from another thread)
    bool connected_ = false;
    int64_t credit_messages_ = 0, credit_bytes_ = 0, max_payload_ = 0;
    double last_heard_ = 0, hello_every_ = 0.25, reopen_at_ = 0, refused_backoff_ = 5.0;
    double connected_at_ = 0;  // when ZeroMQ last opened a connection (monotonic): a handshake failing later timed out
    double quiet_since_ = 0;   // the link's start: no answer since then, before the first one
    bool connection_open_ = false;  // ZeroMQ has a connection open (it may not have shaken hands on it yet)
    bool unanswered_ = false;  // "no answer ... no connection opens" said for this outage
    int64_t acked_ = 0, refused_ = 0, retransmits_ = 0, malformed_ = 0, unreadable_count_ = 0;
    std::map<std::string, Unreadable> unreadable_;  // items skipped for now: the disk refused to read them
    std::set<std::string> too_large_;  // items held: over the uploader's announced size limit
    int64_t too_large_count_ = 0;
    bool auth_refused_ = false, handshake_failing_ = false;
    int64_t hello_refused_ = 0, rejected_ = 0;
    bool hello_refusing_ = false;  // a hello refused and no credit since: the last error stands
    std::optional<double> deferred_said_at_;  // when a nack to send again later was last said (monotonic)
    int64_t deferred_unsaid_ = 0;  // ... and how many since, not said (at most a line a minute)
    // The last hellos' ids: a nack of one is a refused hello, not an item's. Not only the last: a nack of the hello
    // before can come after the next one was sent (hellos are sent again while refused; link.py's HELLO_IDS_KEPT).
    std::deque<std::string> hello_ids_;
    bool dropped_ = false;    // ZeroMQ reported the connection gone and no new handshake yet
    bool reopened_ = false;   // a new socket was opened after a dropped connection (said once per outage)
    bool hello_now_ = false;  // ZeroMQ made a new connection: introduce ourselves on it at once
    int handshakes_ = 0;  // handshakes done on this socket: the first is introduced by the knocks' hellos
    std::string last_error_;
    double last_error_at_ = 0, error_cleared_at_ = 0;
    std::map<std::string, InFlight> in_flight_;
    static constexpr double kDeferredSayEveryS = 60.0;  // common/said_every.py
};

}  // namespace qc
