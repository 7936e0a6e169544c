import type { RequestObserver, ShadowObserver } from '../app/request-observer.js';
import type { WindowRecorder } from '../app/window-recorder.js';

/** What the request path counts into beside the analysis windows: the metrics in one process, a worker's batch tallies. */
export type Counters = RequestObserver & ShadowObserver;

/**
 * The request path's observers: every finished request and mirrored pair goes
 * to the counters and to the recorder of analysis windows; a dropped copy is
 * only counted (the windows judge answers, not copies).
 */
export function observersOf(counters: Counters, recorder: WindowRecorder): { observer: RequestObserver; shadowObserver: ShadowObserver } {
  return {
    observer: {
      observe(record) {
        counters.observe(record);
        recorder.observe(record);
      },
    },
    shadowObserver: {
      observeShadow(record) {
        counters.observeShadow(record);
        recorder.observeShadow(record);
      },
      dropped: (service, version, why) => counters.dropped(service, version, why),
    },
  };
}
