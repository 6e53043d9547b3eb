# A closed stdout ends the run, on every rank, with a non-zero exit and no spin. `timeout` turns
# a regression into a failure instead of a hang.
# - `mpirun -np 2 lcfm info STORE | head -1` returns (both ranks used to spin: rank 0 alone made
#   a collective read of the instrument table while rank 1 closed the store).
# - lcfm whose stdout is a pipe without a reader (EPIPE; SIGPIPE is ignored) stops with exit 1
#   and says why, for a short verb (info) and in the middle of a training (every rank aborted).
# - mpirun whose stdout has no reader during a training ends the job, non-zero, no rank left.
source "$(dirname "$0")/common.sh"
printf '[simulate]\noutput = s.h5\nstars = 4\ncurves_per_star = 2\n' > sim.ini
"$LCFM" simulate sim.ini > /dev/null
set +e
timeout 60 "$MPIEXEC" --oversubscribe -np 2 "$LCFM" info s.h5 | head -1 > first.txt
codes=("${PIPESTATUS[@]}")
set -e
[ "${codes[0]}" -ne 124 ] || fail "mpirun -np 2 lcfm info | head -1 did not end within 60 s"
grep -q "^store        s.h5$" first.txt || { cat first.txt; fail "info | head -1 printed the wrong line"; }

# Runs a command whose stdout is a pipe with its reader already gone; prints "exit-code seconds".
with_closed_stdout() {
  /usr/bin/python3 - "$@" <<'PY'
import os, subprocess, sys, time
read_end, write_end = os.pipe()
os.close(read_end)
start = time.time()
try:
    code = subprocess.run(sys.argv[1:], stdout=write_end, stderr=open("closed.err", "w"), timeout=120).returncode
except subprocess.TimeoutExpired:
    code = 124
print(code, round(time.time() - start, 1))
PY
}
read -r code seconds < <(with_closed_stdout "$LCFM" info s.h5)
[ "$code" -eq 1 ] && grep -q "cannot write to standard output: Broken pipe" closed.err \
  || { cat closed.err; fail "info with a closed stdout: exit $code"; }

job=closed-train-$$.ini
cat > "$job" <<'INI'
[simulate]
output = s.h5
[model]
T = 100
d_model = 16
heads = 2
feed_forward = 32
blocks = 1
latent = 8
[train]
store = s.h5
checkpoint = closed.h5
batch_triplets = 8
validation_fraction = 0.5
validation_triplets = 8
steps = 100000
log_every = 1
checkpoint_minutes = 60
INI
printf '[simulate]\noutput = s.h5\nstars = 40\ninstruments = 4\ncurves_per_star = 4\n' > sim.ini
"$LCFM" simulate sim.ini > /dev/null
read -r code seconds < <(with_closed_stdout "$MPIEXEC" --oversubscribe -np 2 "$LCFM" train "$job")
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] \
  || { cat closed.err; fail "mpirun train with a closed stdout: exit $code after $seconds s"; }
sleep 1
! pgrep -f "$job" > /dev/null || fail "lcfm processes left after mpirun's stdout closed: $(pgrep -af "$job")"
echo "mpirun train with a closed stdout: exit $code after $seconds s"
read -r code seconds < <(with_closed_stdout "$LCFM" train "$job")
[ "$code" -eq 1 ] && grep -q "cannot write to standard output: Broken pipe" closed.err \
  || { cat closed.err; fail "train with a closed stdout: exit $code after $seconds s"; }
echo "a closed stdout ends the run"
