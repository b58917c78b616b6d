# CIRKD at the paper's recipe: the model of ./cirkd.py and the schedule of
# configs/_base_/schedules/sgd-poly_40k.py. A pair config adds the data set and sets
# model.teacher, model.teacher_ckpt, model.student and the memory loss's num_classes.
_base_ = ['./cirkd.py', '../../_base_/schedules/sgd-poly_40k.py']
