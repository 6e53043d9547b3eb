# The README's job-key table is `lcfm keys`, row for row: a key added to src/core/job_keys.c
# (or a changed default or meaning) must reach the README too.
source "$(dirname "$0")/common.sh"
"$LCFM" keys | grep "^|" > keys.md
# the README's table: from its header line to the first line that is not a table row
awk '/^\| section \| key \|/ {t = 1} t && !/^\|/ {exit} t' "$SOURCE/README.md" > readme.md
diff keys.md readme.md > keys.diff || { cat keys.diff; fail "README's job-key table differs from 'lcfm keys' (< lcfm keys, > README)"; }
echo "README key table: $(($(wc -l < keys.md) - 2)) keys, same as lcfm keys"
