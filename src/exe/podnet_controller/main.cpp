#include "controller/controller.h"

int main(int argc, char** argv) {
  return podnet::controller::runController(argc, argv);
}
