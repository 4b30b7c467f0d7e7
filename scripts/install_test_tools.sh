#!/usr/bin/env bash
# System tools a few tests use, installed from Debian's packages when missing:
#   openssh-server  a real sshd for the SFTP back-end test
#   opencv-doc      OpenCV's samples, extracted into tests/data/: vtest.avi
#                   (real pedestrians) for detection on real footage, and
#                   messi5.jpg (a real face) for the face detector
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

samples=(vtest.avi messi5.jpg)
missing=0
for name in "${samples[@]}"; do [ -f "tests/data/$name" ] || missing=1; done
if [ "$missing" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install_test_tools: downloading opencv-doc (apt-get download; not installed) to extract" \
        "${samples[*]} into tests/data/: real footage and a real face for the detection tests" >&2
    mkdir -p tests/data
    tmp="$(mktemp -d)"
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
exit 0
