#include "cli/cli.h"

int main(int argc, char** argv) { return corostorm::cli::main_entry(argc, argv); }
