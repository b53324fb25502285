/* json_mini.c — a small recursive-descent JSON reader for the test vectors (see json_mini.h). */
#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  json_doc_t *doc;
  int pos;
} parser_t;

static void skip_space(parser_t *p) {
  while (strchr(" \t\r\n", p->doc->text[p->pos]) != NULL && p->doc->text[p->pos] != '\0') p->pos++;
}

static int new_token(parser_t *p, json_type_t type) {
  json_token_t *t;
  if (p->doc->count >= JSON_MAX_TOKENS) return -1;
  t = &p->doc->tokens[p->doc->count];
  t->type = type;
  t->start = p->pos;
  t->end = p->pos;
  t->size = 0;
  t->next = 0;
  return p->doc->count++;
}

static int parse_value(parser_t *p);

static int parse_string(parser_t *p) {
  int tok;
  const char *s = p->doc->text;
  p->pos++; /* opening quote */
  tok = new_token(p, JSON_STRING);
  if (tok < 0) return -1;
  while (s[p->pos] != '"') {
    if (s[p->pos] == '\0') return -1;
    if (s[p->pos] == '\\') p->pos++;
    p->pos++;
  }
  p->doc->tokens[tok].end = p->pos;
  p->pos++;
  p->doc->tokens[tok].next = p->doc->count;
  return tok;
}

static int parse_container(parser_t *p, json_type_t type, char close) {
  int tok = new_token(p, type);
  if (tok < 0) return -1;
  p->pos++;
  skip_space(p);
  while (p->doc->text[p->pos] != close) {
    if (type == JSON_OBJECT) {
      if (p->doc->text[p->pos] != '"' || parse_string(p) < 0) return -1;
      skip_space(p);
      if (p->doc->text[p->pos] != ':') return -1;
      p->pos++;
    }
    if (parse_value(p) < 0) return -1;
    p->doc->tokens[tok].size++;
    skip_space(p);
    if (p->doc->text[p->pos] == ',') {
      p->pos++;
      skip_space(p);
    } else if (p->doc->text[p->pos] != close) {
      return -1;
    }
  }
  p->pos++;
  p->doc->tokens[tok].end = p->pos;
  p->doc->tokens[tok].next = p->doc->count;
  return tok;
}

static int parse_value(parser_t *p) {
  char c;
  int tok;
  skip_space(p);
  c = p->doc->text[p->pos];
  if (c == '{') return parse_container(p, JSON_OBJECT, '}');
  if (c == '[') return parse_container(p, JSON_ARRAY, ']');
  if (c == '"') return parse_string(p);
  tok = new_token(p, (c == '-' || (c >= '0' && c <= '9')) ? JSON_NUMBER : JSON_LITERAL);
  if (tok < 0) return -1;
  while (p->doc->text[p->pos] != '\0' && strchr(",]} \t\r\n", p->doc->text[p->pos]) == NULL) p->pos++;
  if (p->pos == p->doc->tokens[tok].start) return -1;
  p->doc->tokens[tok].end = p->pos;
  p->doc->tokens[tok].next = p->doc->count;
  return tok;
}

bool json_parse(json_doc_t *doc, const char *text) {
  parser_t p;
  doc->text = text;
  doc->count = 0;
  p.doc = doc;
  p.pos = 0;
  if (parse_value(&p) != 0) return false;
  skip_space(&p);
  return text[p.pos] == '\0';
}

int json_get(const json_doc_t *doc, int obj, const char *key) {
  int i, t;
  size_t len = strlen(key);
  if (obj < 0 || doc->tokens[obj].type != JSON_OBJECT) return -1;
  t = obj + 1;
  for (i = 0; i < doc->tokens[obj].size; i++) {
    const json_token_t *k = &doc->tokens[t];
    int value = t + 1;
    if ((size_t)(k->end - k->start) == len && strncmp(doc->text + k->start, key, len) == 0) return value;
    t = doc->tokens[value].next;
  }
  return -1;
}

int json_item(const json_doc_t *doc, int arr, int i) {
  int t, k;
  if (arr < 0 || doc->tokens[arr].type != JSON_ARRAY || i < 0 || i >= doc->tokens[arr].size) return -1;
  t = arr + 1;
  for (k = 0; k < i; k++) t = doc->tokens[t].next;
  return t;
}

double json_number(const json_doc_t *doc, int tok) {
  if (tok < 0 || doc->tokens[tok].type != JSON_NUMBER) return 0.0;
  return strtod(doc->text + doc->tokens[tok].start, NULL);
}

size_t json_string(const json_doc_t *doc, int tok, char *out, size_t cap) {
  size_t n = 0;
  int i;
  if (cap == 0) return 0;
  if (tok >= 0 && doc->tokens[tok].type == JSON_STRING) {
    for (i = doc->tokens[tok].start; i < doc->tokens[tok].end && n + 1 < cap; i++) {
      if (doc->text[i] == '\\') i++;
      out[n++] = doc->text[i];
    }
  }
  out[n] = '\0';
  return n;
}
