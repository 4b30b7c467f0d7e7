#!/usr/bin/env bash
# System tools a few tests use, installed from Debian's packages when missing:
#   openssh-server  a real sshd for the SFTP back-end test
#   chromium, chromium-driver
#                   a real headless browser and its WebDriver, for the page tests
#                   of `quickcam view` (tests/uploader/viewer/test_browser.py) and
#                   the detector console (tests/detector/console/test_browser.py)
#   mosquitto       a real MQTT broker for the alerts' MQTT / Home Assistant tests
#   gir1.2-gst-rtsp-server-1.0 (+ python3-gi, gstreamer1.0-plugins-good/-bad)
#                   GStreamer's RTSP server, run by the system python3 as a
#                   real RTSP camera on 127.0.0.1 for the passthrough test
#   opencv-doc      OpenCV's samples, extracted into tests/data/: vtest.avi
#                   (real pedestrians) for detection on real footage, tree.avi
#                   (a real tree in the wind) for the detection corpus, and
#                   messi5.jpg (a real face) for the face detector; five real
#                   photographs (building, leuvenA, squirrel_cls, stuff, home)
#                   that the fresh held-out corpus moves with synthetic wind,
#                   a curtain, water, clouds and TV light (bench/fresh_corpus.py);
#                   five more (leuvenB, rubberwhale1, plant, aero1,
#                   box_in_scene) for the quiet-artefact set's tune and
#                   held-out variants (bench/quiet_artefacts.py)
#   the native detector's toolchain (g++, cmake, OpenCV/ZeroMQ/msgpack/toml++
#                   headers: scripts/build_native.sh lists them and why), then
#                   builds it into build/native/ for tests/test_native_detector.py
#                   and the native runs of the reliability scenarios
# Each install says what and why on stderr; nothing is done when all is present.
# Without root or apt-get the tests that need them skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."

have_apt() { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; }
updated=0
apt_update_once() {
    if [ "$updated" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        updated=1
    fi
}

if [ ! -x /usr/sbin/sshd ] && have_apt; then
    echo "install_test_tools: installing openssh-server (apt-get, as root): a real sshd for the SFTP back-end test" >&2
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null 2>&1 \
        || echo "install_test_tools: could not install openssh-server" >&2
fi

rtsp_ok() {
    /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None); assert Gst.ElementFactory.find('h264parse') and Gst.ElementFactory.find('rtph264pay')" >/dev/null 2>&1
}
if ! rtsp_ok && have_apt; then
    echo "install_test_tools: installing GStreamer's RTSP server (gir1.2-gst-rtsp-server-1.0, python3-gi, plugins-good/-bad): a real RTSP camera on 127.0.0.1 for tests/detector/test_passthrough_rtsp.py" >&2
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-gi \
        gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
        >/dev/null 2>&1 || echo "install_test_tools: could not install GStreamer's RTSP server" >&2
fi

if ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } && have_apt; then
    echo "install_test_tools: installing chromium and chromium-driver (Debian) for the viewer and console browser tests" >&2
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
        || echo "install_test_tools: could not install chromium/chromium-driver; the browser test will skip" >&2
fi

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] && have_apt; then
    echo "install_test_tools: installing mosquitto (MQTT broker for tests/uploader/alerts/test_mqtt.py)" >&2
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >/dev/null 2>&1 \
        || echo "install_test_tools: could not install mosquitto; the MQTT tests will skip" >&2
fi

samples=(vtest.avi tree.avi messi5.jpg building.jpg leuvenA.jpg squirrel_cls.jpg stuff.jpg home.jpg
         leuvenB.jpg rubberwhale1.png plant.jpg aero1.jpg box_in_scene.png)
missing=0
for name in "${samples[@]}"; do [ -f "tests/data/$name" ] || missing=1; done
if [ "$missing" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install_test_tools: downloading opencv-doc (apt-get download; not installed) to extract" \
        "${samples[*]} into tests/data/: real footage, a real face and real stills for the detection tests" >&2
    mkdir -p tests/data
    tmp="$(mktemp -d)"
    echo "install_test_tools: extracting ${samples[*]} from Debian's opencv-doc into tests/data/ (real sample footage for the detection tests)"
    apt_update_once
    if (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1); then
        dpkg-deb -x "$tmp"/opencv-doc_*.deb "$tmp/x"
        for name in "${samples[@]}"; do
            found="$(find "$tmp/x" -name "$name" | head -1)"
            [ -n "$found" ] && cp "$found" "tests/data/$name"
        done
    fi
    rm -rf "$tmp"
fi
for name in "${samples[@]}"; do
    [ -f "tests/data/$name" ] || echo "install_test_tools: could not extract $name from opencv-doc" >&2
done
if have_apt || [ -x build/native/quickcam-native-detector ]; then
    scripts/build_native.sh >/dev/null || echo "install_test_tools: the native detector could not be built; its tests will skip" >&2
fi
exit 0
