// The browser surface the media module uses, injectable so tests run it on fakes and so
// a webview without WebRTC (Debian's WebKitGTK) is one `undefined` check, not a crash.

export type MediaEnv = {
  /** Undefined where the webview has no WebRTC. */
  RTCPeerConnection: (new (config?: RTCConfiguration) => RTCPeerConnection) | undefined;
  MediaStream: new (tracks?: MediaStreamTrack[]) => MediaStream;
  /** Undefined without navigator.mediaDevices (insecure context, old webview). */
  getUserMedia: ((c: MediaStreamConstraints) => Promise<MediaStream>) | undefined;
};

export function browserEnv(win: Window | undefined = typeof window !== "undefined" ? window : undefined): MediaEnv {
  const w = win as (Window & { RTCPeerConnection?: MediaEnv["RTCPeerConnection"]; MediaStream?: MediaEnv["MediaStream"] }) | undefined;
  const md = w?.navigator?.mediaDevices;
  return {
    RTCPeerConnection: w?.RTCPeerConnection,
    MediaStream: w?.MediaStream ?? (class {} as unknown as MediaEnv["MediaStream"]),
    getUserMedia: md && typeof md.getUserMedia === "function" ? (c) => md.getUserMedia(c) : undefined,
  };
}
