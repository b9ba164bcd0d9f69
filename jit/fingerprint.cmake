# cmake -DOUTPUT=<header> -DINPUTS=<file|file...> -P fingerprint.cmake
# Writes CGVM_JIT_FINGERPRINT, a SHA-256 over the contents of INPUTS.
string(REPLACE "|" ";" inputs "${INPUTS}")
set(all "")
foreach(file IN LISTS inputs)
  file(SHA256 ${file} hash)
  string(APPEND all "${hash}")
endforeach()
string(SHA256 fingerprint "${all}")
set(text "#pragma once\n#define CGVM_JIT_FINGERPRINT \"${fingerprint}\"\n")
# Rewrite only on change, so an unchanged fingerprint does not recompile cache.cpp.
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUTPUT} "${text}")
endif()
