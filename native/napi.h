/*
 * The few Node-API declarations addon.c uses, written out by hand.
 *
 * Why not node's own js_native_api.h: the build must need nothing but `cc` (no node-gyp, no
 * headers download, no node source tree). Node-API is a stable C ABI: these signatures and the
 * napi_ok value have not changed since Node-API 1, and every symbol below is exported by the
 * node binary itself, so the addon links with undefined symbols that resolve at dlopen time.
 * Keep this list to what addon.c calls; copy any new declaration verbatim from
 * https://nodejs.org/api/n-api.html.
 */
#ifndef AGENTOS_NAPI_H
#define AGENTOS_NAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opaque handles: only ever passed back to node. */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;

/* napi_status is a C enum in node's header, i.e. an int in the ABI; only napi_ok is named here. */
typedef int napi_status;
#define napi_ok 0

/* Strings are NUL-terminated when the length is NAPI_AUTO_LENGTH. */
#define NAPI_AUTO_LENGTH SIZE_MAX

typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc,
                             napi_value *argv, napi_value *this_arg, void **data);
napi_status napi_get_value_double(napi_env env, napi_value value, double *result);

napi_status napi_get_undefined(napi_env env, napi_value *result);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_create_uint32(napi_env env, uint32_t value, napi_value *result);
napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length,
                                    napi_value *result);
napi_status napi_create_object(napi_env env, napi_value *result);
napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name,
                                    napi_value value);
napi_status napi_create_array_with_length(napi_env env, size_t length, napi_value *result);
napi_status napi_set_element(napi_env env, napi_value object, uint32_t index, napi_value value);
napi_status napi_create_function(napi_env env, const char *utf8name, size_t length,
                                 napi_callback cb, void *data, napi_value *result);

napi_status napi_create_error(napi_env env, napi_value code, napi_value msg, napi_value *result);
napi_status napi_throw(napi_env env, napi_value error);
napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
napi_status napi_throw_type_error(napi_env env, const char *code, const char *msg);
napi_status napi_throw_range_error(napi_env env, const char *code, const char *msg);
napi_status napi_is_exception_pending(napi_env env, bool *result);
napi_status napi_get_value_bool(napi_env env, napi_value value, bool *result);
napi_status napi_get_value_int32(napi_env env, napi_value value, int32_t *result);

/* The two entry points node looks up with dlsym when it loads a .node file. */
int32_t node_api_module_get_api_version_v1(void);
napi_value napi_register_module_v1(napi_env env, napi_value exports);

#endif
