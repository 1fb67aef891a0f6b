/* nats-sub: a small NATS client for the integration tests (there is no
 * `nats` CLI on the test machines).  A real client of the real server, not
 * a fake.
 *
 *   nats-sub sub URL SUBJECT COUNT TIMEOUT_S
 *       Subscribes, prints "ready" once the server has the subscription,
 *       then one line "SUBJECT PAYLOAD" per message; exits 0 after COUNT
 *       messages, 1 when TIMEOUT_S seconds pass first.
 *   nats-sub pub URL SUBJECT PAYLOAD
 *       Publishes one message and waits until the server has it.
 *   nats-sub stream-add URL NAME SUBJECT
 *       Creates a JetStream stream NAME (file storage) capturing SUBJECT.
 *   nats-sub stream-dump URL NAME
 *       Prints the payload of every message of stream NAME, one a line.
 *
 * Reconnects quickly (50 ms) so that a subscriber is back before labd
 * (2 s) after a server restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

static int die(const char *what, natsStatus s)
{
	fprintf(stderr, "nats-sub: %s: %s\n", what, natsStatus_GetText(s));
	return 2;
}

static natsStatus connect_to(const char *url, natsConnection **nc)
{
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 50);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	return s;
}

static int cmd_sub(const char *url, const char *subject, long count, long timeout_s)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsStatus s = connect_to(url, &nc);
	if (s != NATS_OK)
		return die("connect", s);
	s = natsConnection_SubscribeSync(&sub, nc, subject);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 5000);
	if (s != NATS_OK)
		return die("subscribe", s);
	printf("ready\n");
	fflush(stdout);
	int64_t deadline = nats_Now() + timeout_s * 1000;
	long got = 0;
	while (got < count) {
		int64_t left = deadline - nats_Now();
		natsMsg *m = NULL;
		if (left <= 0)
			break;
		s = natsSubscription_NextMsg(&m, sub, left);
		if (s == NATS_TIMEOUT)
			break;
		if (s != NATS_OK)
			return die("next message", s);
		printf("%s %.*s\n", natsMsg_GetSubject(m), natsMsg_GetDataLength(m),
		       natsMsg_GetData(m));
		fflush(stdout);
		natsMsg_Destroy(m);
		got++;
	}
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	if (got < count) {
		fprintf(stderr, "nats-sub: timeout after %ld of %ld messages\n", got, count);
		return 1;
	}
	return 0;
}

static int cmd_pub(const char *url, const char *subject, const char *payload)
{
	natsConnection *nc = NULL;
	natsStatus s = connect_to(url, &nc);
	if (s != NATS_OK)
		return die("connect", s);
	s = natsConnection_PublishString(nc, subject, payload);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 5000);
	natsConnection_Destroy(nc);
	return s == NATS_OK ? 0 : die("publish", s);
}

static int cmd_stream_add(const char *url, const char *name, const char *subject)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	const char *subjects[] = { subject };
	natsStatus s = connect_to(url, &nc);
	if (s != NATS_OK)
		return die("connect", s);
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
		return die("jetstream", s);
	jsStreamConfig_Init(&cfg);
	cfg.Name = name;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	if (s != NATS_OK)
		return die("add stream", s);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return 0;
}

static int cmd_stream_dump(const char *url, const char *name)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = connect_to(url, &nc);
	if (s != NATS_OK)
		return die("connect", s);
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
		return die("jetstream", s);
	if ((s = js_GetStreamInfo(&si, js, name, NULL, &jerr)) != NATS_OK)
		return die("stream info", s);
	uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	for (uint64_t seq = first; seq && seq <= last; seq++) {
		natsMsg *m = NULL;
		s = js_GetMsg(&m, js, name, seq, NULL, &jerr);
		if (s == NATS_NOT_FOUND)
			continue;
		if (s != NATS_OK)
			return die("get message", s);
		printf("%.*s\n", natsMsg_GetDataLength(m), natsMsg_GetData(m));
		natsMsg_Destroy(m);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc == 6 && strcmp(argv[1], "sub") == 0)
		rc = cmd_sub(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	else if (argc == 5 && strcmp(argv[1], "pub") == 0)
		rc = cmd_pub(argv[2], argv[3], argv[4]);
	else if (argc == 5 && strcmp(argv[1], "stream-add") == 0)
		rc = cmd_stream_add(argv[2], argv[3], argv[4]);
	else if (argc == 4 && strcmp(argv[1], "stream-dump") == 0)
		rc = cmd_stream_dump(argv[2], argv[3]);
	else
		fprintf(stderr, "usage: nats-sub sub URL SUBJECT COUNT TIMEOUT_S\n"
				"       nats-sub pub URL SUBJECT PAYLOAD\n"
				"       nats-sub stream-add URL NAME SUBJECT\n"
				"       nats-sub stream-dump URL NAME\n");
	nats_Close();
	return rc;
}
