/* STUB until h/learned merges. */
#ifndef SL_POLICY_ROUTE_BUILTIN_H
#define SL_POLICY_ROUTE_BUILTIN_H
#include <stddef.h>
const unsigned char *sl_route_builtin_model(size_t *len);
#endif
