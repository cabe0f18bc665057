/* flashbackd: the origin HTTP server, seed, tracker and rendezvous. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("flashbackd %s\n", FB_VERSION);
            return 0;
        }
    }
    fprintf(stderr, "flashbackd: not implemented yet\n");
    return 2;
}
