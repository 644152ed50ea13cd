/* Description: the cache's interval tree (src/lib/itree.c) agrees with a
 * brute-force list on random inserts, removals, cover queries (the hit
 * lookup) and overlap queries (invalidation), including duplicate and
 * nested ranges, and stays logarithmically shallow at 100k entries. */
#include <stdlib.h>
#include <string.h>

#include "sv-test.h"
#include "lib/itree.h"

#define N 2000

static struct sv_itree_node nodes[N];
static int present[N];

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct count_arg {
	int seen[N];
	int n;
};

static int count_fn(struct sv_itree_node *n, void *arg)
{
	struct count_arg *c = arg;

	c->seen[n - nodes]++;
	c->n++;
	return 0;
}

static int odd_pred(struct sv_itree_node *n, void *arg)
{
	(void)arg;
	return (n - nodes) & 1;
}

static void check_invariant(const struct sv_itree_node *n)
{
	uintptr_t m;

	if (!n)
		return;
	m = n->end;
	if (n->left) {
		ck_assert(n->left->start <= n->start);
		ck_assert(n->left->prio <= n->prio);
		if (n->left->max_end > m)
			m = n->left->max_end;
	}
	if (n->right) {
		ck_assert(n->right->start >= n->start);
		ck_assert(n->right->prio <= n->prio);
		if (n->right->max_end > m)
			m = n->right->max_end;
	}
	ck_assert_uint_eq(n->max_end, m);
	check_invariant(n->left);
	check_invariant(n->right);
}

static int depth(const struct sv_itree_node *n)
{
	int l, r;

	if (!n)
		return 0;
	l = depth(n->left);
	r = depth(n->right);
	return 1 + (l > r ? l : r);
}

START_TEST(random_against_bruteforce)
{
	struct sv_itree t;
	struct count_arg ca;
	int i, round, rounds, k;

	/* valgrind runs this ~50x slower: a tenth of the rounds still
	 * exercises every path, and the full count runs in the plain setup */
	rounds = getenv("SANVERBS_TEST_QUICK") ? 2000 : 20000;
	sv_itree_init(&t);
	memset(present, 0, sizeof(present));
	for (round = 0; round < rounds; round++) {
		i = (int)(rnd() % N);
		if (!present[i]) {
			uintptr_t s = 4096 + (rnd() % 100000);
			/* a few duplicates and wide ranges on purpose */
			if (i % 7 == 0)
				s = 50000;
			nodes[i].start = s;
			nodes[i].end = s + 1 + rnd() % (i % 11 ? 300 : 20000);
			sv_itree_insert(&t, &nodes[i]);
			present[i] = 1;
		} else if (rnd() % 3 == 0) {
			sv_itree_remove(&t, &nodes[i]);
			present[i] = 0;
		}
		if (round % 50)
			continue;
		check_invariant(t.root);
		for (k = 0; k < 20; k++) {
			uintptr_t qs = 4096 + rnd() % 110000;
			uintptr_t qe = qs + 1 + rnd() % 500;
			struct sv_itree_node *hit;
			int j, want = 0, any_cover_odd = 0;

			memset(&ca, 0, sizeof(ca));
			sv_itree_overlap(&t, qs, qe, count_fn, &ca);
			int bad = 0;

			for (j = 0; j < N; j++) {
				int ov = present[j] && nodes[j].start < qe &&
					 nodes[j].end > qs;

				/* ck_assert per element is slow under Check */
				bad += ca.seen[j] != ov;
				want += ov;
				if (present[j] && (j & 1) &&
				    nodes[j].start <= qs && nodes[j].end >= qe)
					any_cover_odd = 1;
			}
			ck_assert_int_eq(bad, 0);
			ck_assert_int_eq(ca.n, want);
			hit = sv_itree_find_cover(&t, qs, qe, odd_pred, NULL);
			if (any_cover_odd) {
				ck_assert_ptr_nonnull(hit);
				ck_assert(hit->start <= qs && hit->end >= qe);
				ck_assert((hit - nodes) & 1);
				ck_assert(present[hit - nodes]);
			} else {
				ck_assert_ptr_null(hit);
			}
		}
	}
	for (i = 0; i < N; i++)
		if (present[i])
			sv_itree_remove(&t, &nodes[i]);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_ptr_null(t.root);
}
END_TEST

START_TEST(shallow_at_100k)
{
	const size_t n = 100000;
	struct sv_itree_node *many = calloc(n, sizeof(*many));
	struct sv_itree t;
	size_t i;
	int d;

	ck_assert_ptr_nonnull(many);
	sv_itree_init(&t);
	/* ascending inserts: the worst case for an unbalanced tree */
	for (i = 0; i < n; i++) {
		many[i].start = 4096 * (i + 1);
		many[i].end = many[i].start + 4096;
		sv_itree_insert(&t, &many[i]);
	}
	d = depth(t.root);
	/* a treap's expected depth is ~2.99 log2 n (about 50 here) */
	ck_assert_int_lt(d, 80);
	for (i = 0; i < n; i += 997) {
		struct sv_itree_node *hit = sv_itree_find_cover(
			&t, many[i].start + 10, many[i].start + 100, NULL, NULL);

		ck_assert_ptr_eq(hit, &many[i]);
	}
	ck_assert_ptr_null(sv_itree_find_cover(&t, 4096 * 5 + 4000,
					       4096 * 5 + 5000, NULL, NULL));
	free(many);
}
END_TEST

START_TEST(empty_tree)
{
	struct sv_itree t;
	struct count_arg ca;

	sv_itree_init(&t);
	memset(&ca, 0, sizeof(ca));
	ck_assert_ptr_null(sv_itree_find_cover(&t, 1, 2, NULL, NULL));
	ck_assert_int_eq(sv_itree_overlap(&t, 0, UINTPTR_MAX, count_fn, &ca),
			 0);
	ck_assert_int_eq(ca.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("interval");
	TCase *tc = tcase_create("interval");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_against_bruteforce);
	tcase_add_test(tc, shallow_at_100k);
	tcase_add_test(tc, empty_tree);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
