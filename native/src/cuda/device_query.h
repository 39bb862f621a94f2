// Lists the CUDA devices the runtime can see. Never throws: a machine without a driver or
// GPU (CI, a laptop without NVIDIA) simply reports none.
#pragma once
#include "kotaro/engine.h"

namespace kotaro::cuda {

void query_devices(BuildInfo& info);

}  // namespace kotaro::cuda
