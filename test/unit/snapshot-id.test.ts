// Which host a snapshot id names, for every generation of agent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimedHost, idOfHost, namesAHost, shortHostName } from '../../lib/core/snapshot-id.ts';

const T = '2026-11-13T03:00:03Z';
const WEB01 = 'web-01.example.org';

describe('idOfHost', () => {
  it("reads each form as the host's own", () => {
    assert.deepEqual(idOfHost(`web-01_home_${T}`, WEB01), { form: 'named', host: 'web-01', name: 'home', time: T });
    assert.deepEqual(idOfHost(`${WEB01}_${T}`, WEB01), { form: 'host-time', host: WEB01, time: T });
    assert.deepEqual(idOfHost(`web-01_${T}`, WEB01), { form: 'host-time', host: 'web-01', time: T });
    assert.deepEqual(idOfHost('web-01-20261113-030003Z', WEB01), { form: 'seed', host: 'web-01', time: '20261113-030003Z' });
    assert.deepEqual(idOfHost(`${WEB01}-20261113-030003`, WEB01), { form: 'seed', host: WEB01, time: '20261113-030003' });
    assert.equal(idOfHost('web-01_home_2026-11-13T03:00:03.250Z', WEB01)?.name, 'home', 'fractional seconds');
  });

  it('takes names with dots and underscores whole', () => {
    assert.equal(idOfHost(`web-01_db.main_weekly_${T}`, WEB01)?.name, 'db.main_weekly');
    assert.equal(idOfHost(`web-01_._${T}`, WEB01)?.name, '.');
    assert.equal(idOfHost(`web-01___${T}`, WEB01)?.name, '_');
    assert.equal(idOfHost(`web-01__${T}`, WEB01)?.name, '');
  });

  it("refuses another host's id in every form", () => {
    for (const id of [`web-01_home_${T}`, `${WEB01}_${T}`, `web-01_${T}`, 'web-01-20261113-030003Z']) {
      assert.equal(idOfHost(id, 'web-02.example.org'), undefined, id);
      assert.ok(namesAHost(id), id);
      assert.equal(claimedHost(id), id.startsWith(WEB01) ? WEB01 : 'web-01', id);
    }
    // A host whose name the other's only begins with.
    assert.equal(idOfHost(`web-010_home_${T}`, WEB01), undefined);
    assert.equal(idOfHost(`web-0_home_${T}`, WEB01), undefined);
  });

  it('a host with an underscore in its short name owns ids that begin with it', () => {
    assert.equal(idOfHost(`db_1_home_${T}`, 'db_1.example.org')?.name, 'home');
    assert.equal(idOfHost(`db_1_${T}`, 'db_1.example.org')?.form, 'host-time');
    // And so does "db", taking "1_home" as the name: why such hosts cannot share a bucket (docs/deploy.md).
    assert.equal(idOfHost(`db_1_home_${T}`, 'db.example.org')?.name, '1_home');
  });
});

describe('ids that name no host', () => {
  it('a bare time, a UUID, a name: no host claimed', () => {
    for (const id of [T, `_${T}`, '20261113-030003Z', '6f1c1a4e-8d1b-4c55-9f7e-3b9d2f0a7c11', 'home', 'web-01']) {
      assert.equal(namesAHost(id), false, id);
      assert.equal(claimedHost(id), undefined, id);
      assert.equal(idOfHost(id, WEB01), undefined, id);
    }
  });
});

it('shortHostName cuts at the first dot', () => {
  assert.equal(shortHostName(WEB01), 'web-01');
  assert.equal(shortHostName('web-01'), 'web-01');
});
