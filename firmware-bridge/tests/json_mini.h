/* json_mini.h — just enough JSON for the test vectors: parse once into a flat token array, then look up keys.
 * Test code only (the library never parses JSON). */
#ifndef JSON_MINI_H
#define JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_LITERAL } json_type_t;

typedef struct {
  json_type_t type;
  int start, end; /* text span; for strings, inside the quotes */
  int size;       /* children: members of an object (key + value pairs count once), items of an array */
  int next;       /* index of the first token after this one's subtree */
} json_token_t;

#define JSON_MAX_TOKENS 2048

typedef struct {
  const char *text;
  json_token_t tokens[JSON_MAX_TOKENS];
  int count;
} json_doc_t;

bool json_parse(json_doc_t *doc, const char *text);
/* Value token of key in object token obj, or -1. */
int json_get(const json_doc_t *doc, int obj, const char *key);
/* Item i of array token arr, or -1. */
int json_item(const json_doc_t *doc, int arr, int i);
double json_number(const json_doc_t *doc, int tok);
/* Copy a string token (escapes \" \\ \/ only) into out, NUL-terminated; returns its length. */
size_t json_string(const json_doc_t *doc, int tok, char *out, size_t cap);

#endif
