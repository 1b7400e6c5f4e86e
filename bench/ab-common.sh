# Sourced by bench/request-ab.sh and bench/tail-ab.sh once they have read
# A_BIN and B_BIN: moves to the repository root, makes the work directory
# ($work, removed at exit with every process whose PID is in pids), and
# picks free loopback addresses for the two servers and the no-op handler
# ($A, $B, $N). T is the directory of the built tools.
cd "$(dirname "$0")/.."; T=./bin
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
A=127.0.0.1:$(port) B=127.0.0.1:$(port) N=127.0.0.1:$(port)
