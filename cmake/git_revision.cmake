# git_revision.cmake: writes OUTPUT, a C file defining lcfm_git_revision (git describe of
# SOURCE_DIR), at every build; file(CONFIGURE) leaves the file untouched while the revision is the
# same, so only a new commit or a changed work tree recompiles it and relinks.
cmake_minimum_required(VERSION 3.18) # the policies of the project, in script mode too
execute_process(COMMAND git describe --always --dirty --abbrev=12
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE LCFM_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT LCFM_GIT_REVISION)
  set(LCFM_GIT_REVISION "unknown")
endif()
file(CONFIGURE OUTPUT ${OUTPUT} @ONLY
     CONTENT "/* git_revision.c: generated at build time by cmake/git_revision.cmake. */
const char lcfm_git_revision[] = \"@LCFM_GIT_REVISION@\";
")
