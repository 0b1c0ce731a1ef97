#include "common/clock.h"

namespace trunkroute {

RealClock* RealClock::Get() {
  static RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace trunkroute
