#include "ctl/app.h"

int main(int argc, char** argv) {
  return podnet::ctl::runCtl(argc, argv);
}
