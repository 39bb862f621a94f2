import { describe, expect, it } from 'vitest';
import { displayedText, resultAsText } from '../../renderer/src/store/job-records';
import { FakeBridge, image, job, settle } from './fake-bridge';
import { makeStore, startedBridge } from './store-harness';

function submittingBridge() {
  let next = 0;
  return new FakeBridge().handle('jobs.submit', ({ paths }) => ({ jobIds: paths.map(() => `job-${++next}`) }));
}

describe('jobs slice: adding images', () => {
  it('shows every image at once as a draft with a local preview, then links each to its job', async () => {
    const bridge = submittingBridge();
    let releaseUpload!: () => void;
    const gate = new Promise<void>((r) => (releaseUpload = r));
    bridge.pathFor = async (file) => {
      await gate;
      return `/inbox/${file.name}`;
    };
    const { store, state, previews } = makeStore({ bridge });
    const adding = state().addFiles([image('a.png'), image('b.jpg', 'image/jpeg'), image('c.webp', 'image/webp')]);

    // Before any upload finishes, the three cards are there with previews.
    expect(state().queue).toHaveLength(3);
    const drafts = state().queue.map((k) => state().drafts[k]!);
    expect(drafts.map((d) => d.fileName)).toEqual(['a.png', 'b.jpg', 'c.webp']);
    expect(drafts.every((d) => d.previewUrl?.startsWith('blob:test/') && d.error === null)).toBe(true);

    releaseUpload();
    await adding;
    expect(state().queue).toEqual(['job-1', 'job-2', 'job-3']);
    expect(Object.keys(state().drafts)).toHaveLength(0);
    // All three are jobs, in file order, with their placeholders named after the files.
    expect(state().queue.map((id) => state().jobs[id]!.imageName)).toEqual(['a.png', 'b.jpg', 'c.webp']);
    expect(state().queue.map((id) => state().jobs[id]!.state)).toEqual(['pending', 'pending', 'pending']);
    // The previews moved to the jobs and are still alive.
    expect(state().queue.map((id) => state().previews[id])).toEqual(drafts.map((d) => d.previewUrl));
    expect(previews.revoked).toEqual([]);
    // Every path went to jobs.submit exactly once.
    expect(bridge.callsOf('jobs.submit').flatMap((p) => p.paths)).toEqual(['/inbox/a.png', '/inbox/b.jpg', '/inbox/c.webp']);
    void store;
  });

  it('starts the first image before the rest have uploaded (pipelined submits)', async () => {
    const bridge = submittingBridge();
    const { state } = makeStore({ bridge });
    await state().addFiles([image('1.png'), image('2.png'), image('3.png'), image('4.png')]);
    const batches = bridge.callsOf('jobs.submit').map((p) => p.paths.length);
    expect(batches[0]).toBe(1);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('puts a new drop above the earlier ones', async () => {
    const { state } = makeStore({ bridge: submittingBridge() });
    await state().addFiles([image('old.png')]);
    await state().addFiles([image('new1.png'), image('new2.png')]);
    expect(state().queue.map((id) => state().jobs[id]!.imageName)).toEqual(['new1.png', 'new2.png', 'old.png']);
  });

  it('marks an image whose upload fails with the error code, and keeps the others going', async () => {
    const bridge = submittingBridge();
    bridge.pathFor = (file) => {
      if (file.name === 'huge.png') throw Object.assign(new Error('the file is larger than 200 MiB'), { code: 'IMAGE_TOO_LARGE' });
      if (file.name === 'pasted.png') return null;
      return `/inbox/${file.name}`;
    };
    const { state, previews } = makeStore({ bridge });
    await state().addFiles([image('ok.png'), image('huge.png'), image('pasted.png')]);
    const [first, second, third] = state().queue;
    expect(state().jobs[first!]?.imageName).toBe('ok.png');
    expect(state().drafts[second!]?.error).toEqual({ code: 'IMAGE_TOO_LARGE', message: 'the file is larger than 200 MiB' });
    expect(state().drafts[third!]?.error?.code).toBe('NO_FILE_PATH');

    // Dismissing a failed card frees its preview.
    const url = state().drafts[second!]!.previewUrl!;
    state().dismissDraft(second!);
    expect(state().queue).not.toContain(second);
    expect(previews.revoked).toContain(url);
  });

  it('marks every image of a refused submit as failed with the host error', async () => {
    const bridge = new FakeBridge().handle('jobs.submit', () => {
      throw Object.assign(new Error('no model is loaded'), { code: 'NO_MODEL' });
    });
    const { state } = makeStore({ bridge });
    await state().addFiles([image('a.png'), image('b.png')]);
    const errors = state().queue.map((k) => state().drafts[k]?.error?.code);
    expect(errors).toEqual(['NO_MODEL', 'NO_MODEL']);
  });

  it('tries a failed image again: re-submits an uploaded one, re-uploads one that never arrived', async () => {
    let refuse = true;
    let next = 0;
    const bridge = new FakeBridge().handle('jobs.submit', ({ paths }) => {
      if (refuse) throw Object.assign(new Error('no model is selected'), { code: 'NO_MODEL_SELECTED' });
      return { jobIds: paths.map(() => `j${++next}`) };
    });
    let uploadFails = true;
    bridge.pathFor = (file) => {
      if (file.name === 'flaky.png' && uploadFails) throw Object.assign(new Error('connection lost'), { code: 'UPLOAD_FAILED' });
      return `/inbox/${file.name}`;
    };
    const { state } = makeStore({ bridge });
    await state().addFiles([image('a.png'), image('flaky.png')]);
    const [a, flaky] = state().queue;
    expect(state().drafts[a!]?.error?.code).toBe('NO_MODEL_SELECTED');
    expect(state().drafts[flaky!]?.error?.code).toBe('UPLOAD_FAILED');
    expect(bridge.uploaded).toEqual(['a.png']);

    refuse = false;
    uploadFails = false;
    await state().retryDraft(a!);
    await state().retryDraft(flaky!);
    expect(bridge.uploaded).toEqual(['a.png', 'flaky.png']); // a.png was not uploaded twice
    expect(state().queue).toEqual(['j1', 'j2']);
    expect(state().jobs.j2!.imageName).toBe('flaky.png');
    expect(bridge.callsOf('jobs.submit').map((p) => p.paths)).toEqual([['/inbox/a.png'], ['/inbox/a.png'], ['/inbox/flaky.png']]);
  });

  it('does not duplicate a job whose first event arrives before jobs.submit answers', async () => {
    const bridge = new FakeBridge().handle('jobs.submit', () => {
      // main publishes job.updated while handling the submit
      bridge.emit('job.updated', job({ id: 'j1', imageName: 'a.png', state: 'running', progress: 0.1 }));
      return { jobIds: ['j1'] };
    });
    const { state } = makeStore({ bridge, connect: false });
    bridge.on('job.updated', (j) => state().applyJobUpdate(j));
    await state().addFiles([image('a.png')]);
    expect(state().queue).toEqual(['j1']);
    expect(state().jobs.j1!.state).toBe('running'); // the placeholder did not overwrite the event
  });
});

describe('jobs slice: events', () => {
  it('streams tokens into the card and shows the parsed result once done', () => {
    const { state } = makeStore();
    state().applyJobUpdate(job({ id: 'j', state: 'running' }));
    state().applyToken({ jobId: 'j', part: 'description', text: 'A cat ' });
    state().applyToken({ jobId: 'j', part: 'description', text: 'on a mat.' });
    state().applyToken({ jobId: 'j', part: 'comments', text: '1. So cute\n2. Lo' });
    let shown = displayedText(state().jobs.j!, state().live.j);
    expect(shown).toEqual({ description: 'A cat on a mat.', comments: ['So cute', 'Lo'], streaming: true });

    state().applyJobUpdate(job({ id: 'j', state: 'done', description: 'A cat on a mat.', comments: ['So cute', 'Lovely'] }));
    expect(state().live.j).toBeUndefined();
    shown = displayedText(state().jobs.j!, state().live.j);
    expect(shown).toEqual({ description: 'A cat on a mat.', comments: ['So cute', 'Lovely'], streaming: false });

    // A late token of a finished job changes nothing.
    state().applyToken({ jobId: 'j', part: 'description', text: 'stale' });
    expect(state().live.j).toBeUndefined();
  });

  it('falls back to streamText when the host sends no token events', () => {
    const { state } = makeStore();
    state().applyJobUpdate(job({ id: 'j', state: 'running', streamText: '{"description": "A d' }));
    expect(displayedText(state().jobs.j!, state().live.j).description).toBe('{"description": "A d');
  });

  it('keeps the partial text of a failed job and shows its error', () => {
    const { state } = makeStore();
    state().applyJobUpdate(job({ id: 'j', state: 'running' }));
    state().applyToken({ jobId: 'j', part: 'description', text: 'Half' });
    state().applyJobUpdate(job({ id: 'j', state: 'failed', error: { code: 'CUDA_OOM', message: 'out of memory' } }));
    expect(displayedText(state().jobs.j!, state().live.j).description).toBe('Half');
    expect(state().jobs.j!.error?.code).toBe('CUDA_OOM');
  });

  it('adds jobs it did not submit (another window, the HTTP API) to the top of the queue', () => {
    const { state } = makeStore();
    state().applyJobUpdate(job({ id: 'a' }));
    state().applyJobUpdate(job({ id: 'b' }));
    state().applyJobUpdate(job({ id: 'a', state: 'running' }));
    expect(state().queue).toEqual(['b', 'a']);
  });

  it('frees the local preview when the job brings its own thumbnail', async () => {
    const { state, previews } = makeStore({ bridge: submittingBridge() });
    await state().addFiles([image('a.png')]);
    const url = state().previews['job-1']!;
    state().applyJobUpdate(job({ id: 'job-1', state: 'running', thumbnail: 'data:image/jpeg;base64,AAAA' }));
    expect(state().previews['job-1']).toBeUndefined();
    expect(previews.revoked).toEqual([url]);
  });

  it('counts finished jobs so the history can refresh', () => {
    const { state } = makeStore();
    state().applyJobUpdate(job({ id: 'a', state: 'running' }));
    expect(state().finishedVersion).toBe(0);
    state().applyJobUpdate(job({ id: 'a', state: 'done' }));
    state().applyJobUpdate(job({ id: 'a', state: 'done' })); // a repeat is not a new finish
    expect(state().finishedVersion).toBe(1);
  });
});

describe('jobs slice: actions', () => {
  it('cancel sends jobs.cancel and records a refusal on the card', async () => {
    const bridge = new FakeBridge().handle('jobs.cancel', ({ jobId }) => {
      if (jobId === 'gone') throw Object.assign(new Error('no such job'), { code: 'JOB_NOT_FOUND' });
      return { ok: true };
    });
    const { state } = makeStore({ bridge });
    await state().cancelJob('j1');
    await state().cancelJob('gone');
    expect(bridge.callsOf('jobs.cancel')).toEqual([{ jobId: 'j1' }, { jobId: 'gone' }]);
    expect(state().actionErrors.j1).toBeUndefined();
    expect(state().actionErrors.gone).toEqual({ code: 'JOB_NOT_FOUND', message: 'no such job' });
  });

  it('regenerate under the same id clears the old stream', async () => {
    const bridge = new FakeBridge().handle('jobs.retry', ({ jobId }) => ({ jobId }));
    const { state } = makeStore({ bridge });
    state().applyJobUpdate(job({ id: 'j', state: 'running' }));
    state().applyToken({ jobId: 'j', part: 'description', text: 'old' });
    state().applyJobUpdate(job({ id: 'j', state: 'cancelled' }));
    await state().retryJob('j');
    expect(state().live.j).toBeUndefined();
    state().applyJobUpdate(job({ id: 'j', state: 'pending' }));
    expect(state().queue).toEqual(['j']);
  });

  it('regenerate under a new id takes the old card\'s place and picture', async () => {
    const bridge = new FakeBridge().handle('jobs.retry', () => ({ jobId: 'j2' }));
    const { state } = makeStore({ bridge });
    state().applyJobUpdate(job({ id: 'x' }));
    state().applyJobUpdate(job({ id: 'j', state: 'done', imageName: 'cat.png', thumbnail: 'data:image/jpeg;base64,AA' }));
    state().applyJobUpdate(job({ id: 'y' }));
    await state().retryJob('j');
    expect(state().queue).toEqual(['y', 'j2', 'x']);
    expect(state().jobs.j2).toMatchObject({ imageName: 'cat.png', thumbnail: 'data:image/jpeg;base64,AA', state: 'pending' });
  });

  it('edit sends jobs.edit and shows what the host stored', async () => {
    const bridge = new FakeBridge().handle('jobs.edit', ({ jobId, description, comments }) => job({ id: jobId, state: 'done', description, comments }));
    const { state } = makeStore({ bridge });
    state().applyJobUpdate(job({ id: 'j', state: 'done', description: 'old', comments: ['c'] }));
    expect(await state().editJob('j', 'new text', ['one', 'two'])).toBe(true);
    expect(bridge.callsOf('jobs.edit')).toEqual([{ jobId: 'j', description: 'new text', comments: ['one', 'two'] }]);
    expect(state().jobs.j).toMatchObject({ description: 'new text', comments: ['one', 'two'] });
  });

  it('edit reports a refusal and leaves the result as it was', async () => {
    const bridge = new FakeBridge().handle('jobs.edit', () => {
      throw Object.assign(new Error('job is running'), { code: 'JOB_BUSY' });
    });
    const { state } = makeStore({ bridge });
    state().applyJobUpdate(job({ id: 'j', state: 'done', description: 'old' }));
    expect(await state().editJob('j', 'new', [])).toBe(false);
    expect(state().jobs.j!.description).toBe('old');
    expect(state().actionErrors.j?.code).toBe('JOB_BUSY');
  });

  it('the contract refuses what main would refuse (an empty job id)', async () => {
    const bridge = new FakeBridge().handle('jobs.cancel', () => ({ ok: true }));
    const { state } = makeStore({ bridge });
    await state().cancelJob('');
    expect(state().actionErrors['']?.message).toMatch(/jobId/);
  });
});

describe('jobs slice: start-up', () => {
  it('loads jobs.list and the latest history newest first, after what events already brought', async () => {
    const bridge = startedBridge()
      .handle('jobs.list', () => [
        job({ id: 'new-a', createdAt: 5, state: 'done' }),
        job({ id: 'new-b', createdAt: 5, state: 'failed', error: { code: 'IMAGE_DECODE', message: 'bad file' } }),
        job({ id: 'live', createdAt: 9, state: 'pending' }),
      ])
      .handle('history.search', () => ({
        items: [job({ id: 'new-a', createdAt: 5, state: 'running' }), job({ id: 'old', createdAt: 1, state: 'done', description: 'from disk' })],
        total: 2,
      }));
    const { state } = makeStore({ bridge });
    state().applyJobUpdate(job({ id: 'live', createdAt: 9, state: 'running', progress: 0.5 }));
    await state().loadJobs();
    expect(state().queue).toEqual(['live', 'new-a', 'new-b', 'old']);
    expect(state().jobs.live!.state).toBe('running'); // the event is newer than the list
    expect(state().jobs['new-a']!.state).toBe('done'); // the queue's copy is newer than the history's
    expect(state().jobs.old!.description).toBe('from disk'); // after a restart: from the history store
    expect(bridge.callsOf('history.search')).toEqual([{ query: '', limit: 50, offset: 0 }]);
    expect(state().jobsLoaded).toBe(true);
  });

  it('reports a failed jobs.list but still shows the history', async () => {
    const bridge = new FakeBridge()
      .handle('jobs.list', () => {
        throw Object.assign(new Error('queue unavailable'), { code: 'QUEUE_STOPPED' });
      })
      .handle('history.search', () => ({ items: [job({ id: 'h', state: 'done' })], total: 1 }));
    const { state } = makeStore({ bridge });
    await state().loadJobs();
    expect(state().jobsError).toEqual({ code: 'QUEUE_STOPPED', message: 'queue unavailable' });
    expect(state().queue).toEqual(['h']);
  });

  it('reports when neither list can be read', async () => {
    const bridge = new FakeBridge();
    const { state } = makeStore({ bridge });
    await state().loadJobs();
    expect(state().jobsError?.code).toBe('NOT_HANDLED');
    expect(state().jobsLoaded).toBe(true);
  });

  it('clear finished keeps only waiting, running and uploading cards', async () => {
    const bridge = new FakeBridge().handle('jobs.submit', () => {
      throw Object.assign(new Error('full'), { code: 'QUEUE_FULL' });
    });
    const { state, previews } = makeStore({ bridge });
    for (const [id, s] of [['d', 'done'], ['f', 'failed'], ['c', 'cancelled'], ['p', 'pending'], ['r', 'running']] as const) state().applyJobUpdate(job({ id, state: s }));
    await state().addFiles([image('refused.png')]);
    const refused = state().queue[0]!;
    state().clearFinished();
    expect(state().queue).toEqual(['r', 'p']);
    expect(state().drafts[refused]).toBeUndefined();
    expect(previews.live.size).toBe(0);
  });

  it('connectStore feeds job events into the store and unsubscribes', async () => {
    const { bridge, state, disconnect } = makeStore({ bridge: startedBridge(), connect: true });
    await settle();
    bridge.emit('job.updated', job({ id: 'e', state: 'running' }));
    bridge.emit('job.token', { jobId: 'e', part: 'description', text: 'Hi' });
    expect(state().live.e?.description).toBe('Hi');
    disconnect();
    expect(bridge.listenerCount('job.updated')).toBe(0);
    bridge.emit('job.updated', job({ id: 'f' }));
    expect(state().jobs.f).toBeUndefined();
  });
});

describe('result text', () => {
  it('copies the description and the comments as a list', () => {
    expect(resultAsText('A cat.', ['Cute!', 'Nice'])).toBe('A cat.\n\n- Cute!\n- Nice');
    expect(resultAsText('Only text', [])).toBe('Only text');
  });
});
