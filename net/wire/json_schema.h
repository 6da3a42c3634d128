/* A JSON-Schema validator for the subset that models' structured outputs and tool parameters
 * use: type (a name or an array of names; "integer" is a number with no fraction), properties,
 * required, additionalProperties (false, or a schema), items, enum, const, anyOf, oneOf, allOf,
 * $ref to "#/$defs/NAME" or "#/definitions/NAME", minLength/maxLength, minItems/maxItems,
 * minimum/maximum/exclusiveMinimum/exclusiveMaximum. Unknown keywords are ignored (a schema
 * that uses them accepts more, never less). Recursion (nesting and $ref chains) is bounded by
 * SL_JSON_SCHEMA_MAX_DEPTH and the work by SL_JSON_SCHEMA_MAX_STEPS: past either is a violation. Pure (cJSON). To add a
 * keyword: one more test in check() in json_schema.c, and a unit test. */
#ifndef SL_WIRE_JSON_SCHEMA_H
#define SL_WIRE_JSON_SCHEMA_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define SL_JSON_SCHEMA_MAX_DEPTH 64
#define SL_JSON_SCHEMA_MAX_STEPS 200000 /* (schema, value) pairs visited at most; more: a violation */

/* 0 when value satisfies schema (root is the document $ref resolves against: usually schema
 * itself; NULL means schema); -1 when it does not, with a short reason (the failing path and
 * keyword) in why. A schema that is not an object or boolean accepts everything. */
int sl_json_schema_validate(const cJSON *schema, const cJSON *root, const cJSON *value, char *why, size_t whylen);

#endif
