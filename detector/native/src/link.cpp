#include "link.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

#include "clock.hpp"
#include "endpoint.hpp"
#include "error_text.hpp"
#include "logging.hpp"
#include "wire.hpp"

namespace qc {

constexpr double kUnreadableRetryFirstS = 1.0, kUnreadableRetryMaxS = 60.0;  // an unreadable item: tried again

namespace {
constexpr const char* kDetectorName = "quickcam-native-detector";
constexpr const char* kDetectorVersion = "0.1.0";
constexpr double kHelloFirstS = 0.25;
constexpr int kSilentAfterHeartbeats = 3;
constexpr double kPausedAfterS = 2.0;  // a loop turn this late (and three heartbeats): this process did not run
constexpr double kAuthRetryFirstS = 5.0, kAuthRetryMaxS = 300.0;
constexpr double kHandshakeTimedOutAfterS = 5.0;  // a handshake failing later than this timed out (handshake_timeout_s)
constexpr int64_t kMaxReplyBytes = 1 << 20;
constexpr double kDisconnectedDrainS = 5.0;  // at stop, while not connected: ZeroMQ's longest reconnect interval
constexpr int kStoppingLingerMs = 1000;  // the last status (stopping, protocol 1.1) gets this long to leave
constexpr int kIdleMaxMs = 1000;  // the loop looks at the clock at least this often
constexpr int kBlockedRetryMs = 50;  // ZeroMQ would not take a message: tried again this soon

int64_t clamp(double value, int64_t lo, int64_t hi) { return std::max(lo, std::min(hi, int64_t(value))); }

void setopt(void* sock, int option, int value) { zmq_setsockopt(sock, option, &value, sizeof value); }
}  // namespace

// A wake-up that zmq_poll waits on beside the sockets (detector/wakeup.py's WakePipe): any thread can cut
// the link's sleep short. Shared with the outbox's listener, which may outlive the link: once closed,
// wake() does nothing (the descriptor's number may have been reused).
class Wakeup {
public:
    Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    ~Wakeup() { close(); }
    int fd() const { return fd_; }
    void wake() {
        std::lock_guard<std::mutex> lock(mutex_);
        uint64_t one = 1;
        if (fd_ >= 0 && ::write(fd_, &one, sizeof one) < 0) {}  // EAGAIN: awake already
    }
    void drain() {
        uint64_t count;
        if (::read(fd_, &count, sizeof count) < 0) {}  // EAGAIN: drained already
    }
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    std::mutex mutex_;
    int fd_;
};

UploaderLink::UploaderLink(LinkConfig config, CurveKeys curve, Outbox& outbox, std::vector<std::string> cameras,
                           std::function<Value()> camera_status, std::string keep_copy_in)
    : config_(std::move(config)), curve_(std::move(curve)), outbox_(outbox), cameras_(cameras),
      status_headers_(std::move(cameras), std::move(camera_status)), keep_copy_in_(std::move(keep_copy_in)),
      wakeup_(std::make_shared<Wakeup>()) {
    ctx_ = zmq_ctx_new();
    connected_at_ = quiet_since_ = monotonic_s();
    if (wakeup_->fd() < 0) throw std::runtime_error("link: cannot make an eventfd to wake the link's loop");
}

UploaderLink::~UploaderLink() {
    if (thread_.joinable()) { stop_ = true; wakeup_->wake(); thread_.join(); }
    wakeup_->close();
    zmq_ctx_term(ctx_);
}

void UploaderLink::start() {
    quiet_since_ = monotonic_s();
    outbox_.on_new_item([wakeup = wakeup_] { wakeup->wake(); });
    thread_ = std::thread([this] {
        run();
        ended_ = true;
    });
}

bool UploaderLink::stop(double drain_s, double join_s) {
    // While the uploader answers: up to drain_s. While not connected: up to 5 s, as ZeroMQ may
    // be a reconnect interval away from an uploader that has just come back; not at all when the
    // handshake is known to fail. Bounded, so a stop never hangs.
    double started = monotonic_s(), deadline = started + drain_s;
    int64_t depth = outbox_.depth().first, acked_before = status().acked;
    if (depth > 0) {
        log::info("link: waiting up to ", drain_s, " s for the uploader to acknowledge ", depth, " item(s)");
        while (monotonic_s() < deadline && outbox_.depth().first > 0) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                bool hopeless = auth_refused_ || handshake_failing_;  // keys that do not match: no ack will come
                if ((!connected_ || dropped_) && (hopeless || monotonic_s() - started >= kDisconnectedDrainS)) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        int64_t left = outbox_.depth().first, acked = status().acked - acked_before;  // (items committed meanwhile too)
        log::info("link: after ", std::round((monotonic_s() - started) * 10) / 10, " s, ", acked, " of ", acked + left,
                  " item(s) acknowledged", left ? "; the rest is sent on next start" : "");
    }
    stop_ = true;
    wakeup_->wake();
    if (!thread_.joinable()) return true;
    // Its last pass and last status (1 s of linger) take well under join_s; a thread stuck past it (a write to
    // a hung disk) is left behind rather than hold the stop until the service manager's SIGKILL.
    for (double until = monotonic_s() + join_s; !ended_ && monotonic_s() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (ended_) {
        thread_.join();
        return true;
    }
    thread_.detach();
    log::error("link: its thread did not end within ", join_s, " s of being stopped; left behind");
    return false;
}

LinkStatus UploaderLink::status() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {connected_, acked_, refused_, retransmits_, int64_t(in_flight_.size()), last_error_, last_error_at_,
            error_cleared_at_, status_headers_.bad_status(), malformed_, unreadable_count_, hello_refused_,
            rejected_, too_large_count_, int64_t(too_large_.size())};
}

void UploaderLink::fail(const std::string& error) {
    last_error_ = error_text(error);  // the uploader's words (a nack's text, a pause's reason) among them
    last_error_at_ = wall_s();
    error_cleared_at_ = 0;
}

void UploaderLink::healthy() {
    // Kept rather than cleared (link_state.py's healthy): a person reading the status later still sees that the
    // link was down and when; never left standing as current once the link works again.
    // An item the disk will not read keeps its error standing, whatever credit comes.
    if (!last_error_.empty() && error_cleared_at_ == 0 && !(auth_refused_ || handshake_failing_ || hello_refusing_) &&
        unreadable_.empty() && too_large_.empty())
        error_cleared_at_ = wall_s();
}

// -- socket ------------------------------------------------------------------------------

void UploaderLink::open_socket() {
    sock_ = zmq_socket(ctx_, ZMQ_DEALER);
    handshakes_ = 0;  // this socket's: the first is introduced by the knocks' hellos
    setopt(sock_, ZMQ_LINGER, 0);  // unacked data lives in the outbox, not in ZeroMQ
    setopt(sock_, ZMQ_IMMEDIATE, 1);  // never queue for a peer that is not connected
    setopt(sock_, ZMQ_SNDHWM, 64);  // credit is the real limit; this is the backstop
    setopt(sock_, ZMQ_RCVHWM, 1000);
    int64_t max_msg = kMaxReplyBytes;
    zmq_setsockopt(sock_, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    setopt(sock_, ZMQ_RECONNECT_IVL, 100);
    setopt(sock_, ZMQ_RECONNECT_IVL_MAX, static_cast<int>(std::lround(config_.reconnect_max_s * 1000)));
    setopt(sock_, ZMQ_HEARTBEAT_IVL, 2000);
    setopt(sock_, ZMQ_HEARTBEAT_TIMEOUT, 6000);
    setopt(sock_, ZMQ_HANDSHAKE_IVL, static_cast<int>(std::lround(config_.handshake_timeout_s * 1000)));
    setopt(sock_, ZMQ_IPV6, 1);  // an uploader at an IPv6 address: without it never reached (FINDINGS #49)
    if (!curve_.secret_key.empty()) {
        zmq_setsockopt(sock_, ZMQ_CURVE_SERVERKEY, curve_.server_key.c_str(), 40);
        zmq_setsockopt(sock_, ZMQ_CURVE_PUBLICKEY, curve_.public_key.c_str(), 40);
        zmq_setsockopt(sock_, ZMQ_CURVE_SECRETKEY, curve_.secret_key.c_str(), 40);
    }
    connection_open_ = false;
    std::string address = "inproc://quickcam-link-monitor-" + std::to_string(++monitor_serial_);
    zmq_socket_monitor(sock_, address.c_str(),
                       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    monitor_ = zmq_socket(ctx_, ZMQ_PAIR);
    setopt(monitor_, ZMQ_LINGER, 0);
    zmq_connect(monitor_, address.c_str());
    if (zmq_connect(sock_, config_.endpoint.c_str()) != 0)
        log::error("link: cannot connect to ", config_.endpoint, ": ", zmq_strerror(zmq_errno()),
                   "; check link.endpoint");
}

void UploaderLink::close_socket() {
    zmq_socket_monitor(sock_, nullptr, 0);
    zmq_close(monitor_);
    zmq_close(sock_);
    sock_ = monitor_ = nullptr;
}

bool UploaderLink::send(const std::vector<std::string>& frames) {
    for (size_t k = 0; k < frames.size(); ++k) {
        int flags = ZMQ_DONTWAIT | (k + 1 < frames.size() ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock_, frames[k].data(), frames[k].size(), flags) < 0) return false;  // EAGAIN: later
    }
    return true;
}

// -- main loop ----------------------------------------------------------------------------

// The link thread: serve() until stopped, started again after an unexpected error (link.py's _run). The link
// is the only way footage leaves the detector: an exception out of this thread ended the whole process
// (std::terminate), and an outbox file that would not read was skipped without a word while its payload,
// cut short by the read error, could go out and be refused for good. Each failure is logged (the first of a
// streak, then every 50th), shown as the link's last error, and followed by a pause (0.2 s doubling to 5 s)
// and a new socket; what was in flight is sent again.
void UploaderLink::run() {
    ::pthread_setname_np(::pthread_self(), "qc-link");  // for top -H, perf and the tests
    int failures = 0;
    while (!stop_) {
        double started = monotonic_s();
        std::string error;
        try {
            serve();
            return;
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "unknown exception";
        }
        failures = monotonic_s() - started > 60 ? 1 : failures + 1;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            fail("link failing (" + error + ")");
            if (failures == 1)
                log::error("link: ", last_error_, "; starting it again, footage stays in the outbox");
            else if (failures % 50 == 0)
                log::error("link: ", last_error_, "; ", failures, " failures in a row");
        }
        pause(std::min(5.0, 0.1 * std::pow(2.0, std::min(failures, 6))));
    }
}

// Sleeps up to seconds, cut short by stop() only (a new item wakes the same eventfd: the backoff holds).
void UploaderLink::pause(double seconds) {
    double until = monotonic_s() + seconds;
    for (double left = seconds; !stop_ && left > 0; left = until - monotonic_s()) {
        pollfd wake = {wakeup_->fd(), POLLIN, 0};
        if (::poll(&wake, 1, int(std::ceil(left * 1000))) > 0) wakeup_->drain();
    }
}

// One connection's loop: a new socket, introduced by hello before anything else is sent.
void UploaderLink::serve() {
    {  // after a restart: the last socket's credit and in-flight items died with it
        std::lock_guard<std::mutex> lock(mutex_);
        connected_ = false;
        credit_messages_ = credit_bytes_ = 0;
        in_flight_.clear();
        hello_every_ = kHelloFirstS;
    }
    open_socket();
    try {
        loop();
    } catch (...) {
        close_socket();
        throw;
    }
    close_socket();
}

void UploaderLink::loop() {
    double next_heartbeat = 0;
    std::string warning = plain_tcp_warning(config_, !curve_.secret_key.empty());
    if (!warning.empty())
        log::warning("link: connecting to uploader at ", warning);
    else
        log::info("link: connecting to uploader at ", config_.endpoint,
                  curve_.secret_key.empty() ? " (a socket only this user can reach)" : " with CURVE");
    double last_turn = monotonic_s();
    while (!stop_) {
        double now = monotonic_s();
        int timeout_ms;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            notice_pause(now - last_turn);
            last_turn = now;
            if (reopen_at_ > 0 && now >= reopen_at_) {
                // libzmq gives up on a peer that refused our key, and did not reconnect after it dropped a
                // connection over a reply past MAXMSGSIZE: knock again with a new socket (link.py).
                if (auth_refused_)
                    log::info("link: trying the uploader again after it refused this detector's key");
                else if (!reopened_ && handshake_failing_)  // ZeroMQ may be reconnecting (a wrong key): not a drop
                    log::info("link: the handshake with the uploader still fails; trying with a new socket too "
                              "(again, backing off up to ", kAuthRetryMaxS, " s, until a handshake succeeds)");
                else if (!reopened_)
                    log::warning("link: the connection to the uploader dropped and ZeroMQ did not reconnect; trying "
                                 "with a new socket (again, backing off up to ", kAuthRetryMaxS, " s, until it answers)");
                reopened_ = !auth_refused_;
                close_socket();
                open_socket();
                reopen_at_ = 0;
            }
            if (hello_now_) {  // a new connection (an uploader restarted, say): hello on it at once
                hello_now_ = false;
                send_hello();
            }
            if (now >= next_heartbeat) {
                heartbeat(now);
                next_heartbeat = now + next_interval();
            }
            bool blocked = connected_ && !send_pending(now);
            // Asleep until something is due; the uploader's messages, a new item and stop() wake it earlier.
            timeout_ms = blocked ? kBlockedRetryMs : idle_ms(now, next_heartbeat);
        }
        zmq_pollitem_t items[] = {{sock_, 0, ZMQ_POLLIN, 0}, {monitor_, 0, ZMQ_POLLIN, 0},
                                  {nullptr, wakeup_->fd(), ZMQ_POLLIN, 0}};
        for (int round = 0; round < 100; ++round) {
            if (zmq_poll(items, 3, round ? 0 : timeout_ms) <= 0) break;
            if (items[2].revents & ZMQ_POLLIN) wakeup_->drain();
            std::lock_guard<std::mutex> lock(mutex_);
            if (items[1].revents & ZMQ_POLLIN) {
                zmq_msg_t first, second;
                zmq_msg_init(&first);
                zmq_msg_init(&second);
                if (zmq_msg_recv(&first, monitor_, 0) >= 0 && zmq_msg_recv(&second, monitor_, 0) >= 0 &&
                    zmq_msg_size(&first) >= 6) {
                    const auto* data = static_cast<const uint8_t*>(zmq_msg_data(&first));
                    uint16_t event;
                    int32_t value;
                    std::memcpy(&event, data, 2);
                    std::memcpy(&value, data + 2, 4);
                    on_monitor_event(event, value);
                }
                zmq_msg_close(&first);
                zmq_msg_close(&second);
            }
            if (items[0].revents & ZMQ_POLLIN) {
                std::vector<std::string> frames;
                int more = 1;
                while (more) {
                    zmq_msg_t part;
                    zmq_msg_init(&part);
                    if (zmq_msg_recv(&part, sock_, 0) < 0) { zmq_msg_close(&part); break; }
                    frames.emplace_back(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
                    more = zmq_msg_more(&part);
                    zmq_msg_close(&part);
                }
                handle(frames, monotonic_s());
            }
        }
    }
    {  // a clean stop: say so, so the uploader does not raise the alarm (docs/protocol.md section 9)
        std::lock_guard<std::mutex> lock(mutex_);
        if (connected_ && send(wire::encode({status_header(true), std::nullopt}))) {
            log::info("link: told the uploader this detector is stopping");
            setopt(sock_, ZMQ_LINGER, kStoppingLingerMs);
        }
    }
}

// Until the next heartbeat, re-knock or retransmission is due (link.py's _idle_ms): an idle camera
// costs the link no wake-ups in between.
int UploaderLink::idle_ms(double now, double next_heartbeat) {
    double due = next_heartbeat;
    if (reopen_at_ > 0) due = std::min(due, reopen_at_);
    if (connected_)
    {
        for (const auto& [id, flight] : in_flight_) due = std::min(due, flight.sent_at + config_.ack_timeout_s);
        for (const auto& [id, skipped] : unreadable_) due = std::min(due, skipped.retry_at);  // its next try
    }
    return int(clamp(std::ceil((due - now) * 1000), 0, kIdleMaxMs));
}

double UploaderLink::next_interval() {
    if (connected_) return config_.heartbeat_s;
    // Knock often until the uploader answers, backing off up to the heartbeat.
    double interval = hello_every_;
    hello_every_ = std::min(hello_every_ * 2, config_.heartbeat_s);
    return std::min(interval, config_.heartbeat_s);
}

void UploaderLink::on_monitor_event(uint16_t event, int32_t value) {
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        reopen_at_ = monotonic_s() + refused_backoff_;
        refused_backoff_ = std::min(refused_backoff_ * 2, kAuthRetryMaxS);
        if (!auth_refused_) {
            auth_refused_ = true;
            auto [items, bytes] = outbox_.depth();
            fail("uploader refused this detector's CURVE key (ZAP status " + std::to_string(value) + ")");
            log::error("link: the uploader at ", config_.endpoint, " refused this detector's CURVE key (ZAP status ",
                       value, "): add its public key to the uploader's allow-list; ", items, " item(s), ", bytes,
                       " bytes stay in the outbox until then");
        }
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        if (!handshake_failing_) {  // ZeroMQ retries every RECONNECT_IVL: say it once per outage
            fail(handshake_failure(monotonic_s() - connected_at_));
            log::error("link: ", last_error_, "; retrying, ", outbox_.depth().first, " item(s) stay in the outbox");
        }
        handshake_failing_ = true;
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        // A connection ZeroMQ made again by itself (an uploader restarted, say) gets a hello at once. Not the
        // socket's first: the knocks' hellos introduce it, and the event may be read after one of them went
        // (two hellos 10 ms apart on one connection, a clean run of the suite; link.py does the same).
        ++handshakes_;
        hello_now_ = hello_now_ || handshakes_ > 1;
        dropped_ = reopened_ = false;
        if (!auth_refused_) reopen_at_ = 0;  // ZeroMQ reconnected by itself: no new socket needed
        refused_backoff_ = kAuthRetryFirstS;
        if (handshake_failing_) log::info("link: handshake with the uploader succeeds again");
        if (auth_refused_) log::info("link: the uploader accepts this detector's key now");
        handshake_failing_ = auth_refused_ = false;
    } else if (event == ZMQ_EVENT_CONNECTED) {
        connected_at_ = monotonic_s();
        connection_open_ = true;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        dropped_ = true;
        connection_open_ = false;
        if (connected_) log::info("link: connection to the uploader dropped; ZeroMQ reconnects");
    }
}

// Names only what is known (link.py's _handshake_failure): a refused or garbled handshake fails at once (with CURVE,
// most likely a key mismatch); one that fails only after seconds timed out (ZMQ_HANDSHAKE_IVL, handshake_timeout_s): the
// uploader accepted the connection but never answered (stopped, frozen or overloaded), whatever the keys.
std::string UploaderLink::handshake_failure(double after_s) const {
    if (after_s >= kHandshakeTimedOutAfterS) {
        double silent_s = last_heard_ > 0 ? monotonic_s() - last_heard_ : after_s;
        return "no answer from the uploader at " + config_.endpoint + " for " + std::to_string(std::lround(silent_s)) +
               " s: the connection opens but the uploader does not respond (stopped, frozen or overloaded)";
    }
    if (!curve_.secret_key.empty())
        return "the CURVE handshake with the uploader failed (is link.curve_server_public_key_file the uploader's key? "
               "does the uploader use CURVE too?)";
    return "the handshake with the uploader failed (does the uploader use CURVE? this detector does not)";
}

// A loop turn far later than its longest sleep (a heartbeat): this process was stopped (SIGSTOP) or not run,
// so the silence after it is this detector's own, not the uploader's (link.py's _notice_pause). Said as such;
// the link starts again with a hello, as after a silence, since the uploader may have dropped the connection.
void UploaderLink::notice_pause(double gap_s) {
    if (gap_s <= std::max(kPausedAfterS, kSilentAfterHeartbeats * config_.heartbeat_s)) return;
    int seconds = int(std::lround(gap_s));
    log::warning("link: this detector was paused for ", seconds, " s (stopped, or not given the CPU); reconnecting, ",
                 in_flight_.size(), " in-flight item(s) to re-send");
    fail("this detector was paused for " + std::to_string(seconds) + " s");
    connected_ = false;
    credit_messages_ = credit_bytes_ = 0;
    in_flight_.clear();
    hello_every_ = kHelloFirstS;
}

void UploaderLink::heartbeat(double now) {
    double silent_for = now - last_heard_;
    if (connected_ && silent_for > kSilentAfterHeartbeats * config_.heartbeat_s) {
        log::warning("link: uploader silent for ", int(std::lround(silent_for)), " s; will re-send ", in_flight_.size(),
                     " in-flight item(s)");
        fail("uploader silent for " + std::to_string(int(std::lround(silent_for))) + " s");
        connected_ = false;
        credit_messages_ = credit_bytes_ = 0;
        in_flight_.clear();
        hello_every_ = kHelloFirstS;
    }
    if (!connected_) {
        notice_no_answer(now);
        if (dropped_ && !auth_refused_ && reopen_at_ == 0) {  // a new socket, unless ZeroMQ reconnects first
            reopen_at_ = now + refused_backoff_;
            refused_backoff_ = std::min(refused_backoff_ * 2, kAuthRetryMaxS);
        }
        send_hello();
        return;
    }
    send(wire::encode({status_header(false), std::nullopt}));
}

// No connection opens (nothing listening on the endpoint, a firewall that drops it): said once an outage (link.py's
// _notice_no_answer). Such a link makes no handshake, so nothing else named it: NOT CONNECTED with no reason. Said
// after as long as a handshake takes to time out (handshake_timeout_s), so an uploader restarting is not called absent.
void UploaderLink::notice_no_answer(double now) {
    double quiet_s = now - std::max(last_heard_, quiet_since_);
    if (unanswered_ || connection_open_ || quiet_s < config_.handshake_timeout_s || auth_refused_ || handshake_failing_) return;
    unanswered_ = true;
    fail("no answer from the uploader at " + config_.endpoint + " for " + std::to_string(std::lround(quiet_s)) +
         " s: no connection opens (is it running, and listening on this endpoint?)");
    log::warning("link: ", last_error_, "; ", outbox_.depth().first, " item(s) stay in the outbox");
}

Value UploaderLink::status_header(bool stopping) {
    auto [items, bytes] = outbox_.depth();
    // refused: the link's and those set aside at start, as the status file's outbox.refused (main.cpp)
    return status_headers_.build(items, bytes, refused_ + outbox_.set_aside(), stopping);  // always encodes
}

// Never the capability "probe": that is `quickcam doctor`'s, and the uploader would not track us.
void UploaderLink::send_hello() {
    Value header = wire::make_header("hello");
    header["detector"] = Value::text(kDetectorName);
    header["detector_version"] = Value::text(kDetectorVersion);
    Value cams = Value::array();
    for (const auto& c : cameras_) cams.a.push_back(Value::text(c));
    header["cameras"] = cams;
    header["capabilities"] = Value::array({Value::text("credit"), Value::text("snapshot"), Value::text("segment")});
    header["heartbeat_ms"] = Value::integer(clamp(config_.heartbeat_s * 1000, 100, 60000));
    header["ack_timeout_ms"] = Value::integer(clamp(config_.ack_timeout_s * 1000, 100, 3600000));
    hello_ids_.push_back(header["id"].s);
    if (hello_ids_.size() > 8) hello_ids_.pop_front();
    try {
        send(wire::encode({header, std::nullopt}));
    } catch (const wire::ProtocolError& e) {  // our own check, the uploader's: it would refuse it the same
        hello_refused(e.what());
    }
}

// A hello the uploader refuses (or would): one line a streak naming the fix, counted (link.py's _hello_refused).
// It was a restart of the link at every heartbeat; the footage stays in the outbox, the link keeps knocking.
void UploaderLink::hello_refused(const std::string& reason) {
    ++hello_refused_;
    if (hello_refusing_) return;
    hello_refusing_ = true;
    fail("the uploader refuses this detector's hello (" + reason + ")");
    std::string fix = reason.find("hello.cameras") != std::string::npos
        ? "fix the camera ids in this detector's config (1 to 64 cameras, each id 1-64 of A-Z a-z 0-9 _ . - and not "
          ". or ..) and restart it"
        : "is the uploader a quickcam of this detector's version? upgrade the older of the two";
    log::error("link: ", last_error_, "; ", fix, "; ", outbox_.depth().first, " item(s) stay in the outbox until then");
}

// Late items in flight are sent again whatever the window (also while paused, and behind a new item the window has
// no room for: docs/protocol.md section 8); new items go in the outbox's order while the window has room
// (delivery.py's send_pending).
bool UploaderLink::send_pending(double now) {
    auto items = outbox_.pending();
    if (!unreadable_.empty() || !too_large_.empty()) {  // moved away by hand, or acked: no longer waited for
        std::set<std::string> present;
        for (const auto& item : items) present.insert(item.id);
        for (auto it = unreadable_.begin(); it != unreadable_.end();)
            it = present.count(it->first) ? std::next(it) : unreadable_.erase(it);
        for (auto it = too_large_.begin(); it != too_large_.end();)
            it = present.count(*it) ? std::next(it) : too_large_.erase(it);
    }
    bool window_full = false;
    for (const auto& item : items) {
        auto skipped = unreadable_.find(item.id);
        if (skipped != unreadable_.end() && now < skipped->second.retry_at) continue;  // the items behind it first
        auto flight = in_flight_.find(item.id);
        bool resent = flight != in_flight_.end();
        if (resent) {
            // In flight, also while paused: re-sent after the ack timeout, counted once in the window.
            if (now - flight->second.sent_at < config_.ack_timeout_s) continue;
        } else {
            if (window_full || held_too_large(item.id, item.size)) continue;
            int64_t used = 0;
            for (const auto& [id, f] : in_flight_) used += f.size;
            if (int64_t(in_flight_.size()) >= credit_messages_ ||
                (!in_flight_.empty() && used + item.size > credit_bytes_)) {
                window_full = true;  // no new item goes before this one; late ones in flight still go again
                continue;
            }
        }
        std::string header, payload;
        try {
            if (!outbox_.load(item.id, header, payload)) {  // acked meanwhile, or a file of it deleted by hand
                if (outbox_.forget_missing(item.id)) in_flight_.erase(item.id);
                continue;
            }
        } catch (const wire::ProtocolError& e) {  // written by an older or broken version
            refuse_locally(item.id, std::string("its header breaks the protocol: ") + e.what());
            continue;
        } catch (const OsError& e) {  // EIO, EACCES: this item's, not the link's; never deleted or moved
            skip_unreadable(item.id, e, now);
            continue;
        }
        if (skipped != unreadable_.end()) {
            log::info("link: ", item.id, " reads again after ", skipped->second.failures, " failed read(s); sending it");
            unreadable_.erase(skipped);
            if (unreadable_.empty()) healthy();  // the link works (this item is going out): its read error is past
        }
        if (!send({wire::kProtocolFrame, header, payload})) return false;  // ZeroMQ full or peer gone: shortly
        if (resent) {  // said once it is sent, not at each try while ZeroMQ has no peer
            ++retransmits_;
            log::info("link: no ack for ", item.id, " after ", int(std::lround(now - flight->second.sent_at)),
                      " s; sent again");
        }
        in_flight_[item.id] = {item.size, now};
    }
    return true;
}

// The disk would not read this item (delivery.py's _unreadable): skipped for now, kept in the outbox (the disk
// may come back), said once a streak and counted, tried again after 1 s doubling to 60 s.
void UploaderLink::skip_unreadable(const std::string& id, const OsError& e, double now) {
    auto skipped = unreadable_.find(id);
    if (skipped != unreadable_.end()) {
        ++skipped->second.failures;
        skipped->second.backoff_s = std::min(skipped->second.backoff_s * 2, kUnreadableRetryMaxS);
        skipped->second.retry_at = now + skipped->second.backoff_s;
        return;
    }
    unreadable_[id] = {now + kUnreadableRetryFirstS, kUnreadableRetryFirstS, 1};
    ++unreadable_count_;
    fail(std::string(e.what()) + " (errno " + std::to_string(e.code) + "); the disk refuses to read it; check the disk");
    log::error("link: ", last_error_, "; ", id, " skipped for now and kept in the outbox (tried again in ",
               int(kUnreadableRetryFirstS), " s, then up to every ", int(kUnreadableRetryMaxS),
               " s); the items behind it go on");
}

// An item over the uploader's announced limit (delivery.py's _held_too_large): held in the outbox, said once and
// counted, sent once a credit announces a limit it fits in; the items behind it go on.
bool UploaderLink::held_too_large(const std::string& id, int64_t size) {
    if (max_payload_ <= 0 || size <= max_payload_) {
        if (too_large_.erase(id)) {
            log::info("link: sending ", id, " (", size, " bytes) now that the uploader takes up to ", max_payload_);
            if (too_large_.empty() && credit_messages_) healthy();  // its error is past (a pause's stands)
        }
        return false;
    }
    if (too_large_.insert(id).second) {
        ++too_large_count_;
        fail(id + " is " + std::to_string(size) + " bytes, over the uploader's " + std::to_string(max_payload_) +
             "-byte limit; raise uploader.max_payload_mb (or shorten recording.segment_s)");
        log::error("link: ", last_error_, "; kept in the outbox and sent once the uploader takes it; the items "
                   "behind it go on");
    }
    return true;
}

void UploaderLink::refuse_locally(const std::string& id, const std::string& why) {
    log::error("link: not sending ", id, ": ", why, "; kept in ", outbox_.refused_dir());
    outbox_.refuse(id);
    ++refused_;
}

void UploaderLink::handle(const std::vector<std::string>& frames, double now) {
    wire::Message message;
    try {
        message = wire::decode(frames, wire::kDefaultMaxPayload, wire::kUploaderTypes);
    } catch (const wire::ProtocolError& e) {  // counted (status file: link.malformed), logged once per 100
        ++malformed_;
        fail(std::to_string(malformed_) + " malformed message(s) from the uploader ignored (" + e.what() + ")");
        if (malformed_ % 100 == 1)
            log::warning("link: ignoring a malformed message from the uploader (", malformed_, " so far; is the "
                         "endpoint a quickcam uploader?): ", e.what());
        return;
    }
    last_heard_ = now;
    const Value& h = message.header;
    const std::string& type = message.type();
    if (type == "credit") {
        int64_t messages = h.at("messages").i;
        if (!connected_) {
            log::info("link: connected to uploader (credit ", messages, " messages, ", h.at("bytes").i, " bytes)");
            hello_every_ = kHelloFirstS;
            hello_now_ = false;  // a knock's hello got this credit: this connection is introduced
        }
        if (messages == 0 && (credit_messages_ || !connected_)) {
            fail("uploader paused sending: " + h.at("reason").s);
            log::warning("link: uploader paused sending: ", h.at("reason").s);  // whole (status: bounded)
        } else if (messages && connected_ && !credit_messages_) {
            log::info("link: uploader accepts footage again");
        }
        if (hello_refusing_) log::info("link: the uploader takes this detector's hello now");
        connected_ = true;
        hello_refusing_ = unanswered_ = false;
        credit_messages_ = messages;
        credit_bytes_ = h.at("bytes").i;
        max_payload_ = h.has("max_payload") ? h.at("max_payload").i : 0;
        if (credit_messages_) healthy();  // the uploader takes footage again: an error before this is past
    } else if (type == "ack") {
        const std::string& ref = h.at("ref").s;
        bool was_in_flight = in_flight_.erase(ref) > 0;
        if (!was_in_flight && !outbox_.holds(ref)) {
            log::debug("link: ack for ", ref, ", which is not waiting (acked before)");
            return;
        }
        ++acked_;  // first: the stop's drain reads it once the outbox is empty
        outbox_.remove(ref, keep_copy_in_);
    } else if (type == "nack") {
        const std::string& ref = h.at("ref").s;
        // an empty ref names no message: it is counted as rejected
        if (!ref.empty() && std::find(hello_ids_.begin(), hello_ids_.end(), ref) != hello_ids_.end())
            hello_refused(h.at("code").s + ": " + h.at("text").s);
        else
            on_nack(h, now);
    }
}

void UploaderLink::on_nack(const Value& h, double now) {
    const std::string& ref = h.at("ref").s;
    std::string error = h.at("code").s + ": " + h.at("text").s;
    if (!outbox_.holds(ref)) {  // a status, or a message whose id the uploader could not read (ref "")
        ++rejected_;
        fail(error);
        if (rejected_ % 100 == 1)  // the first, then one line a hundred (a hello nacked at every heartbeat)
            log::error("link: uploader rejected a message of ours (", error, "); ", rejected_,
                       " so far (quickcam status counts them)");
        return;
    }
    fail(ref + ": " + error);
    if (h.at("retry").b) {
        // Every ack_timeout_s while it lasts: at most a line a minute, the ones between counted (delivery.py)
        if (deferred_said_at_ && now - *deferred_said_at_ < kDeferredSayEveryS) {
            ++deferred_unsaid_;
        } else {
            std::string more = deferred_unsaid_
                ? " (" + std::to_string(deferred_unsaid_) + " more time(s) since the last line)" : "";
            log::warning("link: uploader could not take ", ref, " now (", error, "); will send it again in ",
                         config_.ack_timeout_s, " s", more);
            deferred_said_at_ = now, deferred_unsaid_ = 0;
        }
        // Stays in flight, so it is re-sent after the ack timeout, not in a hot loop.
        int64_t size = in_flight_.count(ref) ? in_flight_[ref].size : 0;
        in_flight_[ref] = {size, now};
    } else {
        in_flight_.erase(ref);
        log::error("link: uploader refused ", ref, " for good (", error, "); kept in ", outbox_.refused_dir());
        outbox_.refuse(ref);
        ++refused_;
    }
}

}  // namespace qc
