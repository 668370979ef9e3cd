// The browser surface the media module uses, injectable so tests run it on fakes and so
// a webview without WebRTC (Debian's WebKitGTK) is one `undefined` check, not a crash.

export type MediaEnv = {
  /** Undefined where the webview has no WebRTC. */
  RTCPeerConnection: (new (config?: RTCConfiguration) => RTCPeerConnection) | undefined;
  MediaStream: new (tracks?: MediaStreamTrack[]) => MediaStream;
  /** Undefined without navigator.mediaDevices (insecure context, old webview). */
  getUserMedia: ((c: MediaStreamConstraints) => Promise<MediaStream>) | undefined;
  /** Undefined where the engine cannot capture a screen. */
  getDisplayMedia?: ((c: DisplayMediaStreamOptions) => Promise<MediaStream>) | undefined;
  enumerateDevices?: (() => Promise<MediaDeviceInfo[]>) | undefined;
  /** Calls back when a device is plugged in or out; returns the unsubscribe. */
  onDeviceChange?: ((cb: () => void) => () => void) | undefined;
  /** Whether <audio> can be sent to a chosen output (`setSinkId`). */
  canChooseSpeaker?: boolean;
};

export function browserEnv(win: Window | undefined = typeof window !== "undefined" ? window : undefined): MediaEnv {
  const w = win as (Window & { RTCPeerConnection?: MediaEnv["RTCPeerConnection"]; MediaStream?: MediaEnv["MediaStream"]; HTMLMediaElement?: typeof HTMLMediaElement }) | undefined;
  const md = w?.navigator?.mediaDevices;
  return {
    RTCPeerConnection: w?.RTCPeerConnection,
    MediaStream: w?.MediaStream ?? (class {} as unknown as MediaEnv["MediaStream"]),
    getUserMedia: md && typeof md.getUserMedia === "function" ? (c) => md.getUserMedia(c) : undefined,
    getDisplayMedia: md && typeof md.getDisplayMedia === "function" ? (c) => md.getDisplayMedia(c) : undefined,
    enumerateDevices: md && typeof md.enumerateDevices === "function" ? () => md.enumerateDevices() : undefined,
    onDeviceChange:
      md && typeof md.addEventListener === "function"
        ? (cb) => {
            md.addEventListener("devicechange", cb);
            return () => md.removeEventListener("devicechange", cb);
          }
        : undefined,
    canChooseSpeaker: typeof w?.HTMLMediaElement?.prototype === "object" && "setSinkId" in w.HTMLMediaElement.prototype,
  };
}
