/* The subcommands of the `flashback` program. Each takes the arguments after the program name
 * (argv[0] is the subcommand) and returns the process exit code: 0 success, 1 failure at run
 * time, 2 bad usage. */
#ifndef FB_PEER_COMMANDS_H
#define FB_PEER_COMMANDS_H

int fb_cmd_sim(int argc, char **argv);

#endif
