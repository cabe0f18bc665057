/* `flashback sim`: command-line front end of the simulator. */
#include <stdio.h>

#include "peer/commands.h"

int fb_cmd_sim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "flashback sim: not implemented yet\n");
    return 2;
}
