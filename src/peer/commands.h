/* The subcommands of the `flashback` program. Each takes the arguments after the program name
 * (argv[0] is the subcommand) and returns the process exit code: 0 success, 1 failure at run
 * time, 2 bad usage
 * (a command may define more codes of its own, documented in its --help). */
#ifndef FB_PEER_COMMANDS_H
#define FB_PEER_COMMANDS_H

int fb_cmd_sim(int argc, char **argv);

/* `flashback get URL`: fetch a page through the swarm (peer/get.c). Exit codes beyond 0-2 are
 * listed in its --help and docs/PEER.md. */
int fb_cmd_get(int argc, char **argv);

/* `flashback open URL`: a local server that serves the site to a browser through the swarm
 * (peer/open.c). Runs until SIGINT or SIGTERM. */
int fb_cmd_open(int argc, char **argv);

/* `flashback crowd URL`: N visitors in one process, each its own page download (peer/crowd.c);
 * exit codes 3 (origin) and 4 (does not fit) are listed in its --help and docs/PEER.md. */
int fb_cmd_crowd(int argc, char **argv);

#endif
