# The job-key table of jobs/README.md is `lcfm keys`, row for row: a key added to
# include/lcfm/job_keys.h (or a changed default or meaning) must reach the table too.
source "$(dirname "$0")/common.sh"
"$LCFM" keys | grep "^|" > keys.md
# the table: from its header line to the first line that is not a table row
awk '/^\| section \| key \|/ {t = 1} t && !/^\|/ {exit} t' "$SOURCE/jobs/README.md" > readme.md
diff keys.md readme.md > keys.diff || { cat keys.diff; fail "jobs/README.md's key table differs from 'lcfm keys' (< lcfm keys, > jobs/README.md)"; }
echo "jobs/README.md key table: $(($(wc -l < keys.md) - 2)) keys, same as lcfm keys"
