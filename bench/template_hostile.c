/* template_hostile.c — how long each hostile chat template takes to fail:
 * the worst cases of the interpreter limits (docs/chat.md). Wall-clock ms;
 * run by bench/template_hostile.sh natively and compiled to WASI under Node. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "chat_template.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(void) {
    const char *roles[] = {"system", "user"}; const char *contents[] = {"sys", "hi"};
#define N "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}"
#define D "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}"
#define B "{% set a = 'a' * 1000000 %}{% set b = 'a' * 100000 ~ 'b' %}"
    const char *t[] = {N "{{ ns.x }}", N "{{ ns.x == ns.x }}", D "{{ ns.x == ns.x }}", D "{{ ns.x }}", D "{{ ns.x|tojson }}",
        B "{{ a.find(b) }}", B "{{ b in a }}", B "{% for i in range(100000) %}{% if a.startswith(a) %}{% endif %}{% endfor %}",
        B "{{ a.strip('b' * 1000000 ~ 'a') }}", "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        "{% set a = 'x' * 4000000 %}{% for i in range(1000) %}{% set a = a ~ 'y' %}{% endfor %}", NULL};
    double worst = 0;
    for (int i = 0; t[i]; i++) {
        double a = now();
        char *out = NULL, err[300]; size_t n;
        int r = atn_template_render(t[i], strlen(t[i]), roles, contents, 2, 1, "", "", &out, &n, err, sizeof err);
        double ms = now() - a;
        if (ms > worst) worst = ms;
        printf("%8.1f ms  %s  | %.50s\n", ms, r ? err : "ok", t[i] + (strlen(t[i]) > 100 ? 90 : 0));
        free(out);
    }
    printf("worst %.1f ms\n", worst);
    return 0;
}
