#include "daemon/cli.h"

int main(int argc, char** argv) { return corostorm::daemon::main_entry(argc, argv); }
