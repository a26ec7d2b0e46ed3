/*
 * Frank-Wolfe steps of the SDID weights in C: the loop of evidence/synth/_fw_kernels.py (numba) and of
 * evidence.synth.weights._fw_single (numpy), one problem after another. See evidence/synth/_fw_compiled.py for why.
 *
 * fw_batch(G, c, bb, eta, n_rows, x0, valid, md2, x_out, iterations_out, value_out, B, k, nG, max_iter, resync)
 *
 * Arrays are C-contiguous buffers: G float64 (nG x k x k; nG = 1 shares one Gram matrix between the B problems),
 * c / x0 / x_out float64 (B x k), valid uint8 (B x k), bb / eta / n_rows / md2 / value_out float64 (B),
 * iterations_out int64 (B). Problem j minimises zeta^2 |x|^2 + |A x - b|^2 / n on the simplex over its valid columns
 * (G = A'A, c = A'b, eta = n zeta^2), from x0, with synthdid's exact line search and stopping rule.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#define BIG 1e200 /* -c on invalid columns, as evidence.synth.weights._BIG */

/* h = (G + eta I) x - c; returns x'(G + eta I) x in *P and c'x in *cx, and the support of x. Sums over the support
 * of x (G symmetric: its rows are read), so the cost is k times the support. */
static Py_ssize_t exact(const double *restrict G, double eta, const double *restrict c, const double *restrict x,
                        double *restrict h, Py_ssize_t k, double *P, double *cx)
{
    Py_ssize_t nnz = 0;
    for (Py_ssize_t a = 0; a < k; a++) h[a] = eta * x[a];
    for (Py_ssize_t b = 0; b < k; b++) {
        double xb = x[b];
        if (xb != 0.0) {
            const double *restrict row = G + b * k;
            for (Py_ssize_t a = 0; a < k; a++) h[a] += row[a] * xb;
            nnz++;
        }
    }
    double p = 0.0, q = 0.0;
    for (Py_ssize_t a = 0; a < k; a++) {
        p += x[a] * h[a];
        q += c[a] * x[a];
        h[a] -= c[a];
    }
    *P = p;
    *cx = q;
    return nnz;
}

/* One problem on the columns where c is not -BIG (the caller's invalid columns: x is zero there and stays zero, and
 * h stays near +BIG, so they are never the minimum). The running h, P and c'x are
 * recomputed exactly after at least `resync` steps, and no more often than the recomputation's cost (k times the
 * support of x) is matched by the steps' (k each): every `resync` steps on sparse weights, as the numpy loops do. */
static Py_ssize_t fw_one(const double *restrict G, double eta, const double *restrict c, double bb, double nr, double *restrict x, double md2, Py_ssize_t max_iter, Py_ssize_t resync,
                         double *restrict h, Py_ssize_t k, double *value)
{
    double P, cx;
    Py_ssize_t nnz = exact(G, eta, c, x, h, k, &P, &cx);
    Py_ssize_t t = 0, since = 0;
    while (t < max_iter) {
        t++;
        Py_ssize_t i = 0;
        double hi = h[0];
        for (Py_ssize_t a = 1; a < k; a++) { /* first index on ties, as numpy's argmin; invalid columns: h ~ +1e200 */
            if (h[a] < hi) {
                hi = h[a];
                i = a;
            }
        }
        double ci = c[i];
        double Qi = hi + ci;
        double num = P - cx - hi;
        double denom = G[i * k + i] + eta - 2.0 * Qi + P;
        double step = denom > 0.0 ? num / denom : 0.0;
        if (step < 0.0) step = 0.0;
        else if (step > 1.0) step = 1.0;
        double dec = step * (2.0 * num - step * denom) / nr;
        if (step != 0.0) {
            double om = 1.0 - step;
            const double *restrict row = G + i * k;
            for (Py_ssize_t a = 0; a < k; a++) {
                x[a] *= om;
                h[a] = h[a] * om + (row[a] - c[a]) * step;
            }
            h[i] += eta * step;
            x[i] += step;
            since++;
            if (since >= resync && since >= nnz) {
                nnz = exact(G, eta, c, x, h, k, &P, &cx);
                since = 0;
            } else {
                P = P + step * (2.0 * (Qi - P) + step * denom);
                cx = cx + step * (ci - cx);
            }
        }
        if (t >= 2 && !(dec > md2)) break;
    }
    *value = (P - 2.0 * cx + bb) / nr;
    return t;
}

static int check(Py_buffer *buf, Py_ssize_t items, Py_ssize_t itemsize, const char *name)
{
    if (buf->len != items * itemsize) {
        PyErr_Format(PyExc_ValueError, "fw_batch: %s has %zd bytes, expected %zd", name, buf->len, items * itemsize);
        return 0;
    }
    return 1;
}

static PyObject *fw_batch(PyObject *self, PyObject *args)
{
    Py_buffer G, c, bb, eta, nr, x0, valid, md2, xo, it, va;
    Py_ssize_t B, k, nG, max_iter, resync;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*w*w*w*nnnnn", &G, &c, &bb, &eta, &nr, &x0, &valid, &md2, &xo, &it, &va,
                          &B, &k, &nG, &max_iter, &resync))
        return NULL;
    Py_buffer *all[] = {&G, &c, &bb, &eta, &nr, &x0, &valid, &md2, &xo, &it, &va};
    PyObject *result = NULL;
    double *work = NULL;
    if (B < 0 || k < 1 || resync < 1 || (nG != 1 && nG != B)) {
        PyErr_SetString(PyExc_ValueError, "fw_batch: bad sizes");
        goto done;
    }
    if (!(check(&G, nG * k * k, 8, "G") && check(&c, B * k, 8, "c") && check(&bb, B, 8, "bb") && check(&eta, B, 8, "eta") &&
          check(&nr, B, 8, "n_rows") && check(&x0, B * k, 8, "x0") && check(&valid, B * k, 1, "valid") &&
          check(&md2, B, 8, "md2") && check(&xo, B * k, 8, "x_out") && check(&it, B, 8, "iterations_out") &&
          check(&va, B, 8, "value_out")))
        goto done;
    work = (double *)malloc(sizeof(double) * (size_t)(2 * k));
    if (work == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const double *Gp = (const double *)G.buf, *cp = (const double *)c.buf, *x0p = (const double *)x0.buf;
        const double *bbp = (const double *)bb.buf, *etap = (const double *)eta.buf, *nrp = (const double *)nr.buf;
        const double *md2p = (const double *)md2.buf;
        const uint8_t *vp = (const uint8_t *)valid.buf;
        double *xop = (double *)xo.buf, *vap = (double *)va.buf;
        int64_t *itp = (int64_t *)it.buf;
        double *h = work, *cj = work + k;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t j = 0; j < B; j++) {
            double *xj = xop + j * k;
            const uint8_t *vj = vp + j * k;
            Py_ssize_t m = 0;
            for (Py_ssize_t a = 0; a < k; a++) {
                xj[a] = vj[a] ? x0p[j * k + a] : 0.0;
                cj[a] = vj[a] ? cp[j * k + a] : -BIG;
                m += vj[a] != 0;
            }
            double value = bbp[j] / nrp[j];
            itp[j] = m ? (int64_t)fw_one(Gp + (nG == 1 ? 0 : j * k * k), etap[j], cj, bbp[j], nrp[j], xj, md2p[j], max_iter,
                                         resync, h, k, &value)
                       : 0;
            vap[j] = value;
        }
        Py_END_ALLOW_THREADS
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    free(work);
    for (size_t n = 0; n < sizeof(all) / sizeof(all[0]); n++) PyBuffer_Release(all[n]);
    return result;
}

static PyMethodDef methods[] = {
    {"fw_batch", fw_batch, METH_VARARGS, "Frank-Wolfe on a batch of simplex-constrained quadratic problems (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fw_c", "Frank-Wolfe steps of the SDID weights in C.", -1, methods};

PyMODINIT_FUNC PyInit__fw_c(void) { return PyModule_Create(&module); }
