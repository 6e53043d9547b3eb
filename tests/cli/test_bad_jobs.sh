# Bad job files exit with code 2, name the file, line and key, and write nothing.
source "$(dirname "$0")/common.sh"
expect_refusal() { # name, expected text in stderr, job text
  local name=$1 expected=$2
  printf '%s\n' "$3" > "$name.ini"
  set +e
  run_np 2 "$LCFM" simulate "$name.ini" > "$name.out" 2> "$name.err"
  local code=$?
  set -e
  [ $code -eq 2 ] || { cat "$name.err"; fail "$name: exit code $code, expected 2"; }
  grep -qF -- "$expected" "$name.err" || { cat "$name.err"; fail "$name: stderr lacks '$expected'"; }
  [ -z "$(ls out* 2>/dev/null)" ] || fail "$name: output written: $(ls out*)"
}
expect_refusal unknown_key "unknown_key.ini:4: [simulate] starz: unknown key" $'[simulate]\noutput = out.h5\nstars = 10\nstarz = 10'
expect_refusal non_number "non_number.ini:3: [simulate] stars: 'many' is not an integer" $'[simulate]\noutput = out.h5\nstars = many'
expect_refusal negative_stars "negative_stars.ini:3: [simulate] stars: -5 is outside" $'[simulate]\noutput = out.h5\nstars = -5'
expect_refusal small_K "small_K.ini:3: [simulate] K: 1 is outside" $'[simulate]\noutput = out.h5\nK = 1'
expect_refusal small_T "small_T.ini:3: [simulate] T: 0 is outside" $'[simulate]\noutput = out.h5\nT = 0'
expect_refusal terms_over_T "terms_over_T.ini:4: [simulate] instrument_terms: J = 60 exceeds T = 50" $'[simulate]\noutput = out.h5\nT = 50\ninstrument_terms = 60'
expect_refusal no_output "no_output.ini: [simulate] output: required key is missing" $'[simulate]\nstars = 10'
expect_refusal syntax "syntax.ini:2: syntax error" $'[simulate]\noutput out.h5'
# A key with a list of choices takes one of them, named in the message, in any section a verb
# does not use as well (the table checks every key at load); any case is the listed spelling.
expect_refusal bad_choice "bad_choice.ini:3: [simulate] mode: 'labeled' is not one of causal or labelled" $'[simulate]\noutput = out.h5\nmode = labeled'
expect_refusal bad_kind "bad_kind.ini:4: [model] kind: 'causl' is not one of causal, baseline or astromer2" $'[simulate]\noutput = out.h5\n[model]\nkind = causl'
printf '[simulate]\noutput = out.h5\nstars = 2\ncurves_per_star = 2\nmode = CAUSAL\n[store]\ncompression = Deflate\n' > any_case.ini
"$LCFM" simulate any_case.ini > any_case.log 2>&1 || { cat any_case.log; fail "choices in another case refused"; }
h5dump -a /job out.h5 | grep -q "mode = causal" && h5dump -a /job out.h5 | grep -q "compression = deflate" \
  || fail "choices in another case are not stored as the table spells them"
rm -f out.h5
# An indented key is the key it names (inih alone would call it the key above "given twice");
# an indented line that is no key is a syntax error of its own line.
expect_refusal indented "indented.ini:3: [simulate] stars: -5 is outside" $'[simulate]\noutput = out.h5\n  stars = -5'
expect_refusal indented_word "indented_word.ini:3: syntax error" $'[simulate]\noutput = out.h5\n\tcontinued'
# A NUL byte: the file and line are named (it used to read "No such file or directory").
printf '[simulate]\noutput = out.h5\nstars = 1\0\n' > nul.ini
set +e
run_np 2 "$LCFM" simulate nul.ini > /dev/null 2> nul.err; code=$?
set -e
[ $code -eq 2 ] && grep -q "^nul.ini:3: a NUL byte" nul.err && ! grep -q "No such file" nul.err || { cat nul.err; fail "NUL in a job file: exit $code"; }
# A missing job file and a bad override.
set +e
run_np 2 "$LCFM" simulate missing.ini > /dev/null 2> missing.err; code=$?
set -e
[ $code -eq 2 ] && grep -q "missing.ini: cannot read job file" missing.err || { cat missing.err; fail "missing job file"; }
printf '[simulate]\noutput = out.h5\n' > good.ini
set +e
"$LCFM" simulate -o simulate.stars=0 good.ini > /dev/null 2> override.err; code=$?
"$LCFM" frobnicate good.ini > /dev/null 2>&1; verb_code=$?
set -e
[ $code -eq 2 ] && grep -q "^-o simulate.stars=0: \[simulate\] stars: 0 is outside" override.err || { cat override.err; fail "bad override"; }
[ $verb_code -eq 2 ] || fail "unknown verb exit code $verb_code"
[ -z "$(ls out* 2>/dev/null)" ] || fail "output written"
# Opening something that is not an lcfm store fails clearly with exit code 1.
printf 'plain text\n' > notes.h5
set +e
"$LCFM" info notes.h5 > /dev/null 2> info.err; code=$?
set -e
[ $code -eq 1 ] && grep -q "notes.h5: not an HDF5 file" info.err || { cat info.err; fail "info on a text file"; }
# Indented keys of a good job are read as keys.
printf '[simulate]\n  output = indented.h5\n\tstars = 3\n    curves_per_star = 2\n' > indented_good.ini
"$LCFM" simulate indented_good.ini > indented_good.log 2>&1 || { cat indented_good.log; fail "indented keys refused"; }
"$LCFM" info indented.h5 | grep -q "^objects      6$" || fail "indented keys were not read as keys"
echo "bad jobs are refused before any work"
