// The raw ffmpeg kind's path rules: what the coordinator refuses at submission (syntax only),
// and what a worker refuses or maps once it knows its mounts (real directories, symlinks).
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { detectFormats } from '../../src/media/capabilities.js';
import { buildArgv, demuxerWhitelist, mapFfmpegArgs, protocolWhitelist, showLogical, type MountPoint, type PathPolicy } from '../../src/media/logical-paths.js';
import { analyseFfmpegArgs, ffmpegArgsProblem, filtersOf, textProblem, VidfleetError } from '../../src/protocol/index.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vidfleet-paths-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const media = join(dir, 'media');
const exports = join(dir, 'exports');
const outDir = join(dir, 'out');
for (const d of [media, join(media, 'sub'), join(media, 'frames'), join(media, 'frames-bad'), exports, outDir, join(dir, 'outside')]) mkdirSync(d);
writeFileSync(join(media, 'in.mp4'), 'not really a video');
writeFileSync(join(media, 'sub', 'clip.mkv'), 'x');
writeFileSync(join(media, 'frames', 'img_001.png'), 'x');
writeFileSync(join(dir, 'outside', 'secret.mp4'), 'secret');
symlinkSync('/etc/passwd', join(media, 'link-out'));
symlinkSync(join(dir, 'outside'), join(media, 'dir-out'));
symlinkSync('in.mp4', join(media, 'link-in'));
symlinkSync(join(dir, 'outside', 'secret.mp4'), join(media, 'frames-bad', 'img_002.png'));
symlinkSync(join(dir, 'outside'), join(exports, 'dir-out'));

const mounts = new Map<string, MountPoint>([
  ['media', { path: media, writable: false }],
  ['exports', { path: exports, writable: true }],
]);
const policy = (extra: Partial<PathPolicy> = {}): PathPolicy => ({ mounts, outDir, allowProtocols: [], demuxers: ['mov', 'matroska', 'lavfi'], ...extra });

/** The coordinator's check: the message naming the argument, or null. */
const atSubmit = (args: string[], tool: 'ffmpeg' | 'ffprobe' = 'ffmpeg') => ffmpegArgsProblem(tool, args);

async function refusedOnWorker(args: string[], extra: Partial<PathPolicy> = {}): Promise<VidfleetError> {
  const err = await mapFfmpegArgs('ffmpeg', args, policy(extra)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${JSON.stringify(args)} to be refused`).toBeInstanceOf(VidfleetError);
  return err as VidfleetError;
}

describe('refused at submission (no mounts needed)', () => {
  it.each([
    [['-i', '$media/../../etc/passwd', '$out/a.mp4'], /args\[1\].*"\.\."/],
    [['-i', '/etc/passwd', '$out/a.mp4'], /args\[1\].*absolute path/],
    [['-i', 'in.mp4', '$out/a.mp4'], /args\[1\].*not a logical path/],
    [['-i', 'concat:$media/a|$media/b', '$out/a.mp4'], /args\[1\].*concat: protocol is never allowed/],
    [['-i', 'subfile:,,start,0,end,0,,:$media/a', '$out/a.mp4'], /args\[1\].*subfile: protocol is never allowed/],
    [['-i', 'pipe:0', '$out/a.mp4'], /args\[1\].*pipe: protocol/],
    [['-i', 'file:/etc/passwd', '$out/a.mp4'], /args\[1\].*file: protocol/],
    [['-i', '-', '$out/a.mp4'], /args\[1\].*standard input/],
    [['-f', 'lavfi', '-i', 'testsrc', '-filter_complex', 'movie=/etc/passwd[m];[0][m]overlay', '$out/a.mp4'], /args\[5\].*movie filter is not allowed/],
    [['-f', 'lavfi', '-i', 'amovie=$media/a.wav', '$out/a.wav'], /args\[3\].*amovie filter/],
    [['-i', '$media/in.mp4', '-vf', "subtitles='$media/s.srt'", '$out/a.mp4'], /subtitles filter is not allowed/],
    [['-i', '$media/in.mp4', '-vf', 'scale=640:-2,frei0r=distort0r', '$out/a.mp4'], /frei0r filter .*plugin library/],
    [['-i', '$media/in.mp4', '-vf', 'drawtext=fontfile=/usr/share/fonts/x.ttf:text=hi', '$out/a.mp4'], /drawtext filter: "\/usr\/share\/fonts\/x.ttf" is an absolute path/],
    [['-i', '$media/in.mp4', '-progress', 'http://x/', '$out/a.mp4'], /-progress is not allowed/],
    [['-i', '$media/in.mp4', '-stats', '$out/a.mp4'], /-stats is not allowed/],
    [['-i', '$media/in.mp4', '-filter_complex_script', '$media/g.txt', '$out/a.mp4'], /-filter_complex_script is not allowed/],
    [['-i', '$media/in.mp4', '-/vf', '$media/g.txt', '$out/a.mp4'], /reads the option's value from a file/],
    [['-f', 'concat', '-i', '$media/list.txt', '$out/a.mp4'], /args\[3\].*input format concat is not allowed/],
    [['-f', 'hls', '-i', '$media/p.m3u8', '$out/a.mp4'], /input format hls/],
    [['-f', 'x11grab', '-i', '$media/x', '$out/a.mp4'], /capture device/],
    [['-i', '$media/in.mp4', '-f', 'tee', '$out/a.mp4'], /output format tee/],
    [['-pattern_type', 'glob', '-i', '$media/*.png', '$out/a.mp4'], /-pattern_type glob is not allowed/],
    [['-i', '$media/in.mp4', '-x264-params', 'stats=/tmp/x264.log', '$out/a.mp4'], /value of -x264-params: "\/tmp\/x264.log" is an absolute path/],
    [['-i', '$media/in.mp4', '-protocol_whitelist', 'file,http', '$out/a.mp4'], /sets the allowed protocols itself/],
    [['-i', '$media/in.mp4', '-enable_drefs', '1', '$out/a.mp4'], /MOV demuxer/],
    [['-i', '$input/x', '$out/a.mp4'], /\$input is the job input itself/],
    [['-i', '$media/in.mp4', '$input'], /only be read with -i/],
    [['-i', '$Media/in.mp4', '$out/a.mp4'], /lower-case name/],
    [['-i', '$media/in.mp4', '$out/a.mp4', '-c'], /args\[3\].*-c needs a value/],
    [['-i', '$media/in.mp4', '-c', 'copy', '-'], /standard input\/output/],
    [['-i', '$media/in.mp4'], /no output file/],
    [['-c', 'copy', '$out/a.mp4'], /no input/],
    [['-i', '$media/in.mp4', '-passlogfile', '~/pass', '$out/a.mp4'], /not a logical path/],
    [['-i', '$media/in.mp4', '-metadata', 'comment=$HOME', '-vf', 'crop=w=$HOME', '$out/a.mp4'], /args\[5\].*only accepted as a whole argument/],
    [['-h'], /only prints information/],
    [['-i', '$media/in.mp4', '-attach', 'http://x/font.ttf', '$out/a.mkv'], /args\[3\].*http: URLs are only accepted as an input/],
    [['-i', '$media/in.mp4', '-http_proxy', 'http://proxy:3128', '$out/a.mp4'], /args\[3\].*http: protocol/],
  ])('%j', (args, message) => {
    expect(atSubmit(args)).toMatch(message);
  });

  it('lets ordinary commands through', () => {
    const ok = [
      ['-ss', '00:00:01.5', '-i', '$media/sub/clip.mkv', '-map', '0:v:0', '-c:v', 'libx264', '-crf', '23', '-vf', "scale=w=1280:h=-2,setpts=PTS/2,select='eq(pict_type\\,I)'", '-r', '30000/1001', '-aspect', '16:9', '-metadata', 'title=AC/DC live', '-y', '$out/x.mp4'],
      ['-i', '$input', '-i', '$media/logo.png', '-filter_complex', '[0:v][1:v]overlay=10:10[v]', '-map', '[v]', '-force_key_frames', 'expr:gte(t,n_forced*2)', '$out/a.mp4'],
      ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=duration=1', '-shortest', '-nostdin', '$out/a.mkv'],
      ['-i', '$media/in.mp4', '-c', 'copy', '-f', 'hls', '-hls_time', '2', '-hls_segment_filename', '$out/hls/seg_%03d.ts', '$out/hls/index.m3u8'],
      ['-i', '$media/in.mp4', '-af', 'loudnorm=print_format=json', '-f', 'null', '-'],
      ['-i', '$media/in.mp4', '-c:v', 'libx264', '-pass', '1', '-passlogfile', '$out/pass', '-an', '-f', 'mp4', '$exports/first.mp4'],
    ];
    for (const args of ok) expect(atSubmit(args), JSON.stringify(args)).toBeNull();
    expect(atSubmit(['-v', 'error', '-of', 'json', '-show_format', '-show_streams', '$media/in.mp4'], 'ffprobe')).toBeNull();
    expect(atSubmit(['-show_format', '-o', '$out/x.json', '$media/in.mp4'], 'ffprobe')).toMatch(/-o is not allowed/);
  });

  it('accepts allowable protocols at submission and leaves the decision to the worker', () => {
    expect(atSubmit(['-i', 'https://example.com/a.mp4', '$out/a.mp4'])).toBeNull();
    expect(ffmpegArgsProblem('ffmpeg', ['-i', 'https://example.com/a.mp4', '$out/a.mp4'], { allowProtocols: [] })).toMatch(/does not allow https: URLs.*--allow-protocol https/);
  });

  it('is what the coordinator answers with: 400 INVALID_PARAMS naming the argument', () => {
    const err = (() => {
      try {
        validateParams('ffmpeg', { args: ['-i', '/etc/passwd', '$out/a.mp4'] });
      } catch (e) {
        return e;
      }
    })() as VidfleetError;
    expect(err).toBeInstanceOf(VidfleetError);
    expect([err.code, err.status]).toEqual(['INVALID_PARAMS', 400]);
    expect(err.message).toMatch(/^Invalid parameters for ffmpeg: args\[1\] "\/etc\/passwd": .*absolute path/);
    expect(() => validateParams('ffmpeg', { args: ['-i', '$media/a.mp4', '$out/a.mp4'], outputs: ['$media/a.mp4'] })).toThrow(/outputs\[0\].*under \$out/);
  });
});

describe('text and filtergraph scanning', () => {
  it('splits filtergraphs the way ffmpeg does', () => {
    expect(filtersOf("[0:v]scale=w=1280:h=-2[a];[a][1:v]overlay=x='if(gte(t,2),10,-w)':y=10,format=yuv420p[out]")).toEqual([
      { name: 'scale', args: 'w=1280:h=-2' },
      { name: 'overlay', args: "x='if(gte(t,2),10,-w)':y=10" },
      { name: 'format', args: 'yuv420p' },
    ]);
    expect(filtersOf('null,hflip@flip, vflip').map((f) => f.name)).toEqual(['null', 'hflip', 'vflip']);
    expect(filtersOf("drawtext=text='a\\,b;c':x=1,movie=x").map((f) => f.name)).toEqual(['drawtext', 'movie']);
  });

  it('finds paths and URLs anywhere in a value', () => {
    expect(textProblem('keyint=48:min-keyint=48')).toBeNull();
    expect(textProblem('iw/2:ih/2')).toBeNull();
    expect(textProblem('stats=../../x.log')).toMatch(/"\.\."/);
    expect(textProblem("file='/etc/passwd'")).toMatch(/absolute path/);
    expect(textProblem('url=https://evil/')).toMatch(/https: protocol/);
    expect(textProblem('a=b\\:/etc/x')).toMatch(/absolute path/);
  });
});

describe('mapped on the worker', () => {
  it('maps good paths onto the real mount and $out', async () => {
    const cmd = await mapFfmpegArgs('ffmpeg', ['-i', '$media/in.mp4', '-i', '$media/link-in', '-c', 'copy', '$out/sub/dir/out.mkv'], policy());
    expect(cmd.args).toEqual(['-i', join(media, 'in.mp4'), '-i', join(media, 'in.mp4'), '-c', 'copy', join(outDir, 'sub', 'dir', 'out.mkv')]);
    expect(cmd.inputs.map((f) => f.logical)).toEqual(['$media/in.mp4', '$media/link-in']);
    expect(cmd.outputs).toEqual([{ index: 6, logical: '$out/sub/dir/out.mkv', real: join(outDir, 'sub', 'dir', 'out.mkv'), isUrl: false }]);
    expect(showLogical(`Input #0, from '${join(media, 'in.mp4')}' to ${join(outDir, 'x')}`, cmd)).toBe("Input #0, from '$media/in.mp4' to $out/x");
  });

  it('refuses a symlink that leads outside the mount', async () => {
    for (const path of ['$media/link-out', '$media/dir-out/secret.mp4']) {
      const err = await refusedOnWorker(['-i', path, '$out/a.mp4']);
      expect(err.code).toBe('PATH_ESCAPE');
      expect(err.message).toMatch(/args\[1\].*outside \$media/);
      expect(err.message).not.toContain(dir); // worker directories stay private
    }
    const out = await refusedOnWorker(['-i', '$media/in.mp4', '$exports/dir-out/x.mp4']);
    expect(out.code).toBe('PATH_ESCAPE');
    const pattern = await refusedOnWorker(['-i', '$media/frames-bad/img_%03d.png', '$out/a.mp4']);
    expect([pattern.code, pattern.message]).toEqual(['PATH_ESCAPE', expect.stringMatching(/symbolic link "img_002.png"/)]);
  });

  it('accepts an image sequence pattern in a clean directory', async () => {
    const cmd = await mapFfmpegArgs('ffmpeg', ['-i', '$media/frames/img_%03d.png', '$out/a.mp4'], policy());
    expect(cmd.args[1]).toBe(join(media, 'frames', 'img_%03d.png'));
  });

  it('names an unknown variable and the mounts the worker has', async () => {
    expect(atSubmit(['-i', '$nope/x.mp4', '$out/a.mp4'])).toBeNull();
    const err = await refusedOnWorker(['-i', '$nope/x.mp4', '$out/a.mp4']);
    expect(err.code).toBe('MOUNT_MISSING');
    expect(err.message).toMatch(/no mount for \$nope \(it has \$out, \$media, \$exports\).*--mount nope=/);
  });

  it('refuses outputs into a read-only mount, missing inputs and directories', async () => {
    expect((await refusedOnWorker(['-i', '$media/in.mp4', '$media/copy.mp4'])).message).toMatch(/\$media is read-only.*under \$out/);
    expect((await refusedOnWorker(['-i', '$media/missing.mp4', '$out/a.mp4'])).code).toBe('INPUT_NOT_FOUND');
    expect((await refusedOnWorker(['-i', '$media/sub', '$out/a.mp4'])).message).toMatch(/not a regular file/);
    expect((await refusedOnWorker(['-i', '$media/in.mp4', '$out'])).message).toMatch(/names the directory itself/);
    const written = await mapFfmpegArgs('ffmpeg', ['-i', '$media/in.mp4', '$exports/new.mp4'], policy());
    expect(written.args[2]).toBe(join(exports, 'new.mp4'));
  });

  it('refuses URLs unless the worker allows their protocol, and then whitelists only that stack', async () => {
    const args = ['-i', 'http://127.0.0.1:9/a.mp4', '$out/a.mp4'];
    const err = await refusedOnWorker(args);
    expect([err.code, err.message]).toEqual(['PATH_NOT_ALLOWED', expect.stringMatching(/does not allow http: URLs.*--allow-protocol http/)]);
    const cmd = await mapFfmpegArgs('ffmpeg', args, policy({ allowProtocols: ['http'] }));
    expect(cmd.inputs[0]).toMatchObject({ real: 'http://127.0.0.1:9/a.mp4', isUrl: true });
    const argv = buildArgv('ffmpeg', cmd, ['mov']);
    expect(argv.slice(argv.indexOf('-protocol_whitelist'), argv.indexOf('-protocol_whitelist') + 2)).toEqual(['-protocol_whitelist', 'file,http,tcp']);
    expect(protocolWhitelist('https://x')).toBe('file,https,tls,tcp');
    expect(protocolWhitelist(null)).toBe('file');
    expect((await refusedOnWorker(['-i', 'concat:a|b', '$out/a.mp4'], { allowProtocols: ['http'] })).message).toMatch(/concat: protocol is never allowed/);
  });

  it('binds $input to the resolved job input', async () => {
    const cmd = await mapFfmpegArgs('ffmpeg', ['-i', '$input', '$out/a.mp4'], policy({ input: join(media, 'in.mp4') }));
    expect(cmd.args[1]).toBe(join(media, 'in.mp4'));
    const remote = await mapFfmpegArgs('ffmpeg', ['-i', '$input', '$out/a.mp4'], policy({ input: 'http://127.0.0.1:1/v1/blobs/x' }));
    expect(buildArgv('ffmpeg', remote, ['mov'])).toContain('file,http,tcp');
    expect((await refusedOnWorker(['-i', '$input', '$out/a.mp4'])).code).toBe('INVALID_INPUT');
  });

  it('puts our guards in front of every input and keeps the user from prompting', async () => {
    const cmd = await mapFfmpegArgs('ffmpeg', ['-i', '$media/in.mp4', '-f', 'lavfi', '-i', 'sine', '$out/a.mkv'], policy());
    const argv = buildArgv('ffmpeg', cmd, ['mov', 'lavfi']);
    expect(argv).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-progress', 'pipe:1', '-n',
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov,lavfi', '-i', join(media, 'in.mp4'),
      '-f', 'lavfi', '-protocol_whitelist', 'file', '-format_whitelist', 'mov,lavfi', '-i', 'sine',
      join(outDir, 'a.mkv'),
    ]);
    const yes = await mapFfmpegArgs('ffmpeg', ['-y', '-i', '$media/in.mp4', '$out/b.mkv'], policy());
    expect(buildArgv('ffmpeg', yes, ['mov'])).not.toContain('-n');
  });

  it("builds the demuxer whitelist from this ffmpeg, without list-following demuxers and devices", async () => {
    const list = demuxerWhitelist((await detectFormats()).demuxers);
    expect(list).toEqual(expect.arrayContaining(['mov', 'mp4', 'matroska', 'webm', 'mpegts', 'image2', 'lavfi', 'wav']));
    for (const refused of ['concat', 'hls', 'dash', 'imf', 'sdp', 'rtsp', 'x11grab', 'alsa', 'v4l2', 'fbdev']) expect(list).not.toContain(refused);
  });

  it('analyses roles so a value is never mistaken for a file and back', () => {
    const { args } = analyseFfmpegArgs('ffmpeg', ['-ss', '5', '-i', '$media/a.mp4', '-an', '-vf', 'null', '-metadata', 'x=/y', '$out/b.mp4'], { allowProtocols: [] });
    expect(args.map((a) => a.role)).toEqual(['option', 'value', 'option', 'input', 'option', 'option', 'graph', 'option', 'value', 'output']);
  });
});
