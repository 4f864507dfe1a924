/* The latents' decoder, compiled: the range decoder of format_spec.md section 6 and the
 * integer ARM of section 10, one latent at a time in wavefront order.  Python side and the
 * reasons: wavefront.py.  Everything is integer arithmetic: the probability tables come from
 * numpy (arm.cdf_tables), built with the encoder's own IEEE operations. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum { OK = 0, INVALID_STREAM = 1, LATENT_RANGE = 2 };
enum { PAD = 3, MAX_WIDTH = 32, FRAC = 12 };

typedef struct {
    const uint32_t *words;  /* the payload's big-endian words, already in host order */
    Py_ssize_t n_words;
    uint64_t point, lower, range, pos;
} Decoder;

static uint64_t next_word(Decoder *d) {
    uint64_t w = d->pos < (uint64_t)d->n_words ? d->words[d->pos] : 0;  /* 0 past the end */
    d->pos++;
    return w;
}

/* One symbol of the table cdf[0..k] (cdf[0] = 0, cdf[k] = 2^24); -1 if the stream is invalid. */
static long decode_symbol(Decoder *d, const uint64_t *cdf, long k) {
    uint64_t scale = d->range >> 24;
    uint64_t quantile = (d->point - d->lower) / scale;
    if (quantile >= ((uint64_t)1 << 24)) return -1;
    long lo = 0, hi = k;  /* cdf[lo] <= quantile < cdf[hi] */
    while (hi - lo > 1) {
        long mid = (lo + hi) >> 1;
        if (cdf[mid] <= quantile) lo = mid; else hi = mid;
    }
    d->lower += scale * cdf[lo];
    d->range = scale * (cdf[lo + 1] - cdf[lo]);
    if (d->range < ((uint64_t)1 << 32)) {
        d->lower <<= 32;
        d->range <<= 32;
        d->point = (d->point << 32) | next_word(d);
    }
    return lo;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The ARM on the context a[0..dims[0]) (times 2^12), in place: a[0], a[1] the mean and log-scale. */
static void arm_forward(int64_t *a, long layers, const int64_t *weights, const int64_t *biases, const int64_t *dims) {
    int64_t b[MAX_WIDTH];
    for (long i = 0; i < layers; i++) {
        const int64_t *wi = weights + i * MAX_WIDTH * MAX_WIDTH;
        for (long j = 0; j < dims[i + 1]; j++) {
            int64_t acc = 0;
            for (long k = 0; k < dims[i]; k++) acc += wi[j * MAX_WIDTH + k] * a[k];
            int64_t v = (acc >> FRAC) + biases[i * MAX_WIDTH + j];  /* >> of int64: floor */
            b[j] = i < layers - 1 ? clamp(v, 0, (int64_t)1 << 30) : v;
        }
        for (long j = 0; j < dims[i + 1]; j++) a[j] = b[j];
    }
}

/* One grid: its K = dims[0] - J spatial neighbours at offsets, then the co-located latents of the
 * J grids channel[0..J) (padded like out; NULL reads 0). */
static int decode_grid(Decoder *d, long h, long w, long alpha, const int64_t *offsets, long layers,
                       const int64_t *weights, const int64_t *biases, const int64_t *dims,
                       const uint64_t *cdf, long cols, long reach, int64_t max_latent, int64_t *out,
                       long n_channel, int64_t *const *channel) {
    const long stride = w + 2 * PAD;
    const int64_t one = (int64_t)1 << FRAC;
    const long n_spatial = dims[0] - n_channel;
    int64_t a[MAX_WIDTH], zero[MAX_WIDTH] = {0};
    arm_forward(zero, layers, weights, biases, dims);  /* a context of zeros, the commonest, computed once */
    for (long t = 0; t < alpha * (h - 1) + w; t++) {
        long r_lo = t - w + 1 <= 0 ? 0 : (t - w + 1 + alpha - 1) / alpha;
        long r_hi = t / alpha < h - 1 ? t / alpha : h - 1;
        for (long r = r_lo; r <= r_hi; r++) {
            long c = t - alpha * r;
            int64_t any = 0;
            for (long k = 0; k < n_spatial; k++) {
                a[k] = out[(PAD + r + offsets[2 * k]) * stride + PAD + c + offsets[2 * k + 1]] * one;
                any |= a[k];
            }
            for (long j = 0; j < n_channel; j++) {
                a[n_spatial + j] = channel[j] ? channel[j][(PAD + r) * stride + PAD + c] * one : 0;
                any |= a[n_spatial + j];
            }
            if (any) {
                arm_forward(a, layers, weights, biases, dims);
            } else {
                a[0] = zero[0];
                a[1] = zero[1];
            }
            int64_t mean = clamp(a[0], -max_latent * one, max_latent * one);
            int64_t base = mean >> FRAC;
            int64_t frac = ((mean - base * one) * 16) >> FRAC;
            int64_t log_scale = clamp(a[1], -((int64_t)1 << 40), (int64_t)1 << 40);
            int64_t row = clamp(((log_scale + 4 * one) * 8) >> FRAC, 0, 71);
            int64_t value = base;
            if (reach > 0) {
                long symbol = decode_symbol(d, cdf + (row * 16 + frac) * cols, cols - 1);
                if (symbol < 0) return INVALID_STREAM;
                value = base + symbol - reach;
            }
            if (value > max_latent || value < -max_latent) return LATENT_RANGE;
            out[(PAD + r) * stride + PAD + c] = value;
        }
    }
    return OK;
}

/* decode_grids(words, shapes, reaches, alpha, offsets, weights, biases, dims, tables, max_latent, outs, sources)
 *   words    uint32 [n] (host order)          shapes   int64 [L, 2]      reaches int64 [L]
 *   alpha    the wavefront slope
 *   offsets  int64 [K, 2]                     weights  int64 [layers, 32, 32]
 *   biases   int64 [layers, 32]               dims     int64 [layers + 1], dims[0] = K + J
 *   tables   list of L uint64 [72 * 16, 2R + 2] (any array where R = 0)
 *   outs     list of L writable int64 [h + 3, w + 6], zero
 *   sources  int64 [L, J]: grid l's channel inputs are the co-located latents of these earlier
 *            grids of its shape, -1 for an input that reads 0
 * Returns OK, INVALID_STREAM or LATENT_RANGE.  The buffers' shapes are the caller's contract
 * (wavefront.py checks them). */
static PyObject *decode_grids(PyObject *self, PyObject *args) {
    Py_buffer words, shapes, reaches, offsets, weights, biases, dims, sources;
    PyObject *tables, *outs;
    long long max_latent;
    long alpha;
    if (!PyArg_ParseTuple(args, "y*y*y*ly*y*y*y*O!LO!y*", &words, &shapes, &reaches, &alpha, &offsets, &weights,
                          &biases, &dims, &PyList_Type, &tables, &max_latent, &PyList_Type, &outs, &sources))
        return NULL;
    Decoder d = {(const uint32_t *)words.buf, words.len / 4, 0, 0, UINT64_MAX, 0};
    uint64_t hi = next_word(&d), lo = next_word(&d);
    d.point = (hi << 32) | lo;
    long levels = (long)(reaches.len / 8), layers = (long)(dims.len / 8) - 1;
    long n_channel = levels ? (long)(sources.len / 8) / levels : 0;
    const int64_t *shape = shapes.buf, *reach = reaches.buf, *source = sources.buf;
    int64_t *channel[MAX_WIDTH] = {NULL};
    int status = OK;
    PyObject *result = NULL;
    Py_buffer *cdf = PyMem_Calloc(levels, sizeof(Py_buffer)), *out = PyMem_Calloc(levels, sizeof(Py_buffer));
    long got = 0;
    if (!cdf || !out) { PyErr_NoMemory(); goto done; }
    if (PyList_GET_SIZE(tables) != levels || PyList_GET_SIZE(outs) != levels || n_channel * levels * 8 != sources.len
        || n_channel >= MAX_WIDTH) {
        PyErr_SetString(PyExc_ValueError, "one table, one output and J sources per grid");
        goto done;
    }
    for (long i = 0; i < levels * n_channel; i++)
        if (source[i] < -1 || source[i] >= i / n_channel) {  /* an earlier grid, or -1 */
            PyErr_SetString(PyExc_ValueError, "a grid's channel source must be an earlier grid");
            goto done;
        }
    for (; got < levels; got++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(tables, got), &cdf[got], PyBUF_SIMPLE) < 0) goto done;
        if (PyObject_GetBuffer(PyList_GET_ITEM(outs, got), &out[got], PyBUF_WRITABLE) < 0) {
            PyBuffer_Release(&cdf[got]);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (long l = 0; l < levels && status == OK; l++) {
        for (long j = 0; j < n_channel; j++) {
            int64_t src = source[l * n_channel + j];
            channel[j] = src < 0 ? NULL : (int64_t *)out[src].buf;
        }
        status = decode_grid(&d, (long)shape[2 * l], (long)shape[2 * l + 1], alpha, offsets.buf, layers,
                             weights.buf, biases.buf, dims.buf, cdf[l].buf,
                             reach[l] ? (long)(2 * reach[l] + 2) : 0, (long)reach[l], (int64_t)max_latent,
                             out[l].buf, n_channel, channel);
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromLong(status);
done:
    for (long l = 0; l < got; l++) {
        PyBuffer_Release(&cdf[l]);
        PyBuffer_Release(&out[l]);
    }
    PyMem_Free(cdf);
    PyMem_Free(out);
    PyBuffer_Release(&words); PyBuffer_Release(&shapes); PyBuffer_Release(&reaches);
    PyBuffer_Release(&offsets); PyBuffer_Release(&weights); PyBuffer_Release(&biases); PyBuffer_Release(&dims);
    PyBuffer_Release(&sources);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_grids", decode_grids, METH_VARARGS, "Decode every latent grid of a latents payload."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wavefront", NULL, -1, methods};

PyMODINIT_FUNC PyInit__wavefront(void) { return PyModule_Create(&module); }
