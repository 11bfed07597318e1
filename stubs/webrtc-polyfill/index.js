// See package.json: no WebRTC in vidfleet's Node processes. simple-peer imports these three
// names at load time; they stay undefined, and nothing constructs a WebRTC peer (webtorrent
// only does for WebRTC trackers, which vidfleet never announces to).
export const RTCPeerConnection = undefined;
export const RTCSessionDescription = undefined;
export const RTCIceCandidate = undefined;
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
